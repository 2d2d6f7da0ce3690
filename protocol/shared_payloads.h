// Message bytes shared by every connection a message is queued on: a broadcast holds one
// copy, not one per peer. Each payload is reference-counted; a connection holds one
// reference per queued message and drops it when the message is done with (delivered,
// failed, sent unreliably, or the connection destroyed), and the last reference returns
// the buffer to the pool. The buffers come from a BufferPool, so once warmed up taking
// and releasing a payload allocates nothing. Single-threaded, like the connections that
// share it (sans-IO: the mesh's thread).
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "protocol/buffer_pool.h"
#include "protocol/frames.h"

namespace hana::protocol {

class SharedPayloads {
 public:
  static constexpr std::uint32_t kNone = BufferPool::kNone;

  // A copy of `bytes` with one reference (the caller's).
  std::uint32_t acquire(Bytes bytes) {
    const std::uint32_t p = buffers_.acquire(bytes.size());
    if (!bytes.empty()) std::memcpy(buffers_[p].data(), bytes.data(), bytes.size());
    if (refs_.size() <= p) refs_.resize(std::size_t{p} + 1, 0);
    refs_[p] = 1;
    ++acquired_;
    return p;
  }
  void retain(std::uint32_t p) { ++refs_[p]; }
  void release(std::uint32_t p) {
    if (p == kNone || refs_[p] == 0) return;
    if (--refs_[p] == 0) buffers_.release(p);
  }
  Bytes bytes(std::uint32_t p) const { return Bytes(buffers_[p].data(), buffers_[p].size()); }
  std::size_t size(std::uint32_t p) const { return buffers_[p].size(); }

  std::uint32_t refs(std::uint32_t p) const { return p < refs_.size() ? refs_[p] : 0; }
  // Payloads alive now, and copies taken so far (one per unicast send or broadcast).
  std::size_t in_use() const { return buffers_.in_use(); }
  std::uint64_t acquired() const { return acquired_; }

 private:
  mutable BufferPool buffers_;  // operator[] is non-const only
  std::vector<std::uint32_t> refs_;
  std::uint64_t acquired_ = 0;
};

}  // namespace hana::protocol
