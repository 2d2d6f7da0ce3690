// Send slots and their grouping into msghdrs, shared by both backends. A slot holds one
// datagram, or the parts of a gathered one around a payload that stays in its message
// (protocol::Gathered: up to three iovecs, in wire order; GSO segments are consecutive in
// the iovecs' concatenation, so a group's segments may each be several iovecs). The
// payload's pin is held with the slot until its send is done, then handed back
// (take_unpinned) for the mesh to release. Committed slots are grouped so that
// consecutive equal-size datagrams to one destination go out as one sendmsg with
// UDP_SEGMENT (GSO). Everything is allocated up front: steady-state sending allocates nothing.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "hana/address.h"
#include "protocol/codec.h"

namespace hana::engine {

inline constexpr std::uint32_t kMaxGsoSegments = 64;  // the kernel's UDP_MAX_SEGMENTS
inline constexpr std::size_t kMaxGsoBytes = 65'000;  // below the 64 KiB IP limit

inline constexpr std::uint32_t kMaxIovPerDatagram = 3;  // before, the payload, after

struct SendGroup {
  msghdr msg{};
  iovec iov[kMaxGsoSegments * kMaxIovPerDatagram]{};
  std::uint32_t iov_count = 0;
  alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(std::uint16_t))]{};
  sockaddr_storage addr{};
  std::uint32_t slots[kMaxGsoSegments]{};
  std::uint32_t count = 0;         // datagrams (segments)
  std::uint32_t bytes = 0;         // total payload, on the wire
  std::uint32_t segment_bytes = 0; // wire size of the first segment
  bool closed = false;             // a shorter last segment ends a GSO group
};

class SendBatch {
 public:
  SendBatch(std::uint32_t slots, std::uint32_t slot_bytes);

  // Buffer of the next free slot (it stays free until commit); empty if none.
  protocol::MutableBytes acquire();
  // `size`: the bytes written into the slot; `gathered`: a payload to send between them
  // (its pin is the batch's until the send is released).
  void commit(const Address& to, std::size_t size, bool gso, const protocol::Gathered& gathered = {});
  bool empty() const { return ready_count_ == 0 && open_ == kNone; }

  // Closes the open group and moves every ready group index into `out` (in order).
  // The caller sends each group's msg and then calls release(group).
  void take_ready(std::vector<std::uint32_t>& out);
  SendGroup& group(std::uint32_t index) { return groups_[index]; }
  void release(std::uint32_t group_index);
  // Moves the pins of released (sent or dropped) gathered datagrams into `out`.
  void take_unpinned(std::vector<std::uint32_t>& out) {
    out.insert(out.end(), unpinned_.begin(), unpinned_.end());
    unpinned_.clear();
  }
  std::uint32_t slot_count() const { return slot_count_; }

 private:
  static constexpr std::uint32_t kNone = ~0u;
  void close_open();

  std::uint32_t slot_count_;
  std::uint32_t slot_bytes_;
  std::unique_ptr<std::uint8_t[]> memory_;
  std::vector<std::uint32_t> free_slots_;   // stack
  std::vector<std::uint32_t> slot_pins_;    // per slot: the pin of its gathered payload, or kNoPin
  std::vector<std::uint32_t> unpinned_;     // pins of released slots, for take_unpinned
  std::vector<SendGroup> groups_;
  std::vector<std::uint32_t> free_groups_;  // stack
  std::vector<std::uint32_t> ready_;        // closed groups waiting to be sent, in order
  std::uint32_t ready_count_ = 0;
  std::uint32_t open_ = kNone;              // group still accepting GSO segments
};

}  // namespace hana::engine
