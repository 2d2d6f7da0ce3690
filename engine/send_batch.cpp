#include "engine/send_batch.h"

#include <netinet/udp.h>

#include <cstring>

#include "engine/socket.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

namespace hana::engine {

SendBatch::SendBatch(std::uint32_t slots, std::uint32_t slot_bytes)
    : slot_count_(slots), slot_bytes_(slot_bytes), memory_(new std::uint8_t[std::size_t{slots} * slot_bytes]),
      slot_pins_(slots, protocol::kNoPin), groups_(slots) {
  unpinned_.reserve(slots);
  free_slots_.reserve(slots);
  free_groups_.reserve(slots);
  ready_.reserve(slots);
  for (std::uint32_t i = slots; i-- > 0;) {
    free_slots_.push_back(i);
    free_groups_.push_back(i);
  }
}

protocol::MutableBytes SendBatch::acquire() {
  if (free_slots_.empty() || free_groups_.empty()) return {};
  return {memory_.get() + std::size_t{free_slots_.back()} * slot_bytes_, slot_bytes_};
}

void SendBatch::close_open() {
  if (open_ == kNone) return;
  SendGroup& g = groups_[open_];
  g.msg = msghdr{};
  g.msg.msg_name = &g.addr;
  g.msg.msg_namelen = g.addr.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  g.msg.msg_iov = g.iov;
  g.msg.msg_iovlen = g.iov_count;
  if (g.count > 1) {
    g.msg.msg_control = g.control;
    g.msg.msg_controllen = sizeof g.control;
    cmsghdr* cm = CMSG_FIRSTHDR(&g.msg);
    cm->cmsg_level = SOL_UDP;
    cm->cmsg_type = UDP_SEGMENT;
    cm->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
    const auto seg = static_cast<std::uint16_t>(g.segment_bytes);
    std::memcpy(CMSG_DATA(cm), &seg, sizeof seg);
  }
  ready_.push_back(open_);
  ++ready_count_;
  open_ = kNone;
}

void SendBatch::commit(const Address& to, std::size_t in_slot, bool gso, const protocol::Gathered& gathered) {
  if (free_slots_.empty() || free_groups_.empty() || in_slot == 0 || in_slot > slot_bytes_ ||
      gathered.split > in_slot) {
    if (gathered.pin != protocol::kNoPin) unpinned_.push_back(gathered.pin);  // dropped: nothing holds it
    return;
  }
  const std::size_t size = in_slot + gathered.external.size();  // on the wire
  const std::uint32_t slot = free_slots_.back();
  free_slots_.pop_back();
  sockaddr_storage ss;
  const socklen_t len = to_sockaddr(to, ss);
  if (open_ != kNone) {
    SendGroup& g = groups_[open_];
    const bool joins = gso && !g.closed && g.count < kMaxGsoSegments && size <= g.segment_bytes &&
                       g.bytes + size <= kMaxGsoBytes && std::memcmp(&g.addr, &ss, len) == 0;
    if (!joins) close_open();
  }
  if (open_ == kNone) {
    open_ = free_groups_.back();
    free_groups_.pop_back();
    SendGroup& g = groups_[open_];
    g.count = 0;
    g.iov_count = 0;
    g.bytes = 0;
    g.segment_bytes = static_cast<std::uint32_t>(size);
    g.closed = false;
    g.addr = ss;
  }
  SendGroup& g = groups_[open_];
  std::uint8_t* at = memory_.get() + std::size_t{slot} * slot_bytes_;
  if (gathered.empty()) {
    g.iov[g.iov_count++] = {at, in_slot};
  } else {
    if (gathered.split > 0) g.iov[g.iov_count++] = {at, gathered.split};
    g.iov[g.iov_count++] = {const_cast<std::uint8_t*>(gathered.external.data()), gathered.external.size()};  // sendmsg only reads it
    if (in_slot > gathered.split) g.iov[g.iov_count++] = {at + gathered.split, in_slot - gathered.split};
  }
  slot_pins_[slot] = gathered.pin;
  g.slots[g.count] = slot;
  ++g.count;
  g.bytes += static_cast<std::uint32_t>(size);
  if (size < g.segment_bytes) g.closed = true;  // only the last GSO segment may be short
  if (!gso) close_open();
}

void SendBatch::take_ready(std::vector<std::uint32_t>& out) {
  close_open();
  out.insert(out.end(), ready_.begin(), ready_.end());
  ready_.clear();
  ready_count_ = 0;
}

void SendBatch::release(std::uint32_t group_index) {
  SendGroup& g = groups_[group_index];
  for (std::uint32_t i = 0; i < g.count; ++i) {
    const std::uint32_t slot = g.slots[i];
    if (slot_pins_[slot] != protocol::kNoPin) {
      unpinned_.push_back(slot_pins_[slot]);
      slot_pins_[slot] = protocol::kNoPin;
    }
    free_slots_.push_back(slot);
  }
  g.count = 0;
  g.iov_count = 0;
  free_groups_.push_back(group_index);
}

}  // namespace hana::engine
