// Send slots and their grouping into msghdrs, shared by both backends. A slot holds one
// datagram; committed slots are grouped so that consecutive equal-size datagrams to one
// destination go out as one sendmsg with UDP_SEGMENT (GSO). Everything is allocated up
// front: steady-state sending allocates nothing.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "hana/address.h"
#include "protocol/frames.h"

namespace hana::engine {

inline constexpr std::uint32_t kMaxGsoSegments = 64;  // the kernel's UDP_MAX_SEGMENTS
inline constexpr std::size_t kMaxGsoBytes = 65'000;  // below the 64 KiB IP limit

struct SendGroup {
  msghdr msg{};
  iovec iov[kMaxGsoSegments]{};
  alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(std::uint16_t))]{};
  sockaddr_storage addr{};
  std::uint32_t slots[kMaxGsoSegments]{};
  std::uint32_t count = 0;         // datagrams (segments)
  std::uint32_t bytes = 0;         // total payload
  std::uint32_t segment_bytes = 0; // size of the first segment
  bool closed = false;             // a shorter last segment ends a GSO group
};

class SendBatch {
 public:
  SendBatch(std::uint32_t slots, std::uint32_t slot_bytes);

  // Buffer of the next free slot (it stays free until commit); empty if none.
  protocol::MutableBytes acquire();
  void commit(const Address& to, std::size_t size, bool gso);
  bool empty() const { return ready_count_ == 0 && open_ == kNone; }

  // Closes the open group and moves every ready group index into `out` (in order).
  // The caller sends each group's msg and then calls release(group).
  void take_ready(std::vector<std::uint32_t>& out);
  SendGroup& group(std::uint32_t index) { return groups_[index]; }
  void release(std::uint32_t group_index);
  std::uint32_t slot_count() const { return slot_count_; }

 private:
  static constexpr std::uint32_t kNone = ~0u;
  void close_open();

  std::uint32_t slot_count_;
  std::uint32_t slot_bytes_;
  std::unique_ptr<std::uint8_t[]> memory_;
  std::vector<std::uint32_t> free_slots_;   // stack
  std::vector<SendGroup> groups_;
  std::vector<std::uint32_t> free_groups_;  // stack
  std::vector<std::uint32_t> ready_;        // closed groups waiting to be sent, in order
  std::uint32_t ready_count_ = 0;
  std::uint32_t open_ = kNone;              // group still accepting GSO segments
};

}  // namespace hana::engine
