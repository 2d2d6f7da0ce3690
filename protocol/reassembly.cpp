#include "protocol/reassembly.h"

#include <algorithm>
#include <cstring>

namespace hana::protocol {

Reassembly::Entry* Reassembly::find(std::size_t stream, std::uint64_t seq) {
  if (last_ < entries_.size()) {
    Entry& e = entries_[last_];
    if (e.used && e.stream == stream && e.seq == seq) return &e;
  }
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    Entry& e = entries_[i];
    if (e.used && e.stream == stream && e.seq == seq) {
      last_ = i;
      return &e;
    }
  }
  return nullptr;
}

void Reassembly::release(Entry& e) {
  if (!e.used) return;
  pool_.release(e.buffer);
  e.buffer = BufferPool::kNone;
  bytes_ -= e.total;
  --active_;
  if (e.unreliable) --unreliable_active_;
  e.used = false;
  e.have.clear();
}

std::uint64_t Reassembly::cover(Entry& e, std::uint64_t a, std::uint64_t b) {
  auto& v = e.have;
  // First interval that ends at or after a (touching intervals merge).
  std::size_t i = 0;
  while (i < v.size() && v[i].second < a) ++i;
  std::uint64_t lo = a, hi = b, covered = 0;
  std::size_t j = i;
  while (j < v.size() && v[j].first <= b) {
    const std::uint64_t os = std::max(a, v[j].first), oe = std::min(b, v[j].second);
    if (oe > os) covered += oe - os;
    lo = std::min(lo, v[j].first);
    hi = std::max(hi, v[j].second);
    ++j;
  }
  if (j == i) {
    v.insert(v.begin() + static_cast<std::ptrdiff_t>(i), {lo, hi});
  } else {
    v[i] = {lo, hi};
    v.erase(v.begin() + static_cast<std::ptrdiff_t>(i + 1), v.begin() + static_cast<std::ptrdiff_t>(j));
  }
  return (b - a) - covered;
}

Reassembly::Outcome Reassembly::add(std::size_t stream, std::uint64_t seq, std::uint64_t total_length,
                                    std::uint64_t offset, Bytes payload, bool unreliable,
                                    std::uint64_t budget_left, std::uint32_t& buffer_out) {
  if (offset > total_length || payload.size() > total_length - offset || total_length == 0)
    return Outcome::Inconsistent;
  Entry* e = find(stream, seq);
  if (e && e->total != total_length) return Outcome::Inconsistent;
  if (!e) {
    if (unreliable && unreliable_active_ >= kMaxUnreliablePartials) {
      // Unreliable partial messages may never complete: evict the oldest instead of failing.
      Entry* oldest = nullptr;
      for (Entry& x : entries_)
        if (x.used && x.unreliable && (!oldest || x.age < oldest->age)) oldest = &x;
      if (oldest) {
        release(*oldest);
        ++evicted_;
      }
    }
    if (active_ >= kMaxPartials || total_length > budget_left) return Outcome::LimitExceeded;
    std::size_t idx = entries_.size();
    for (std::size_t i = 0; i < entries_.size(); ++i)
      if (!entries_[i].used) {
        idx = i;
        break;
      }
    if (idx == entries_.size()) entries_.emplace_back();
    e = &entries_[idx];
    last_ = idx;
    e->used = true;
    e->unreliable = unreliable;
    e->stream = stream;
    e->seq = seq;
    e->total = total_length;
    e->received = 0;
    e->age = clock_++;
    e->buffer = pool_.acquire(static_cast<std::size_t>(total_length));
    e->have.clear();
    bytes_ += total_length;
    ++active_;
    if (unreliable) ++unreliable_active_;
  }
  if (payload.empty()) return Outcome::Incomplete;
  const std::uint64_t fresh = cover(*e, offset, offset + payload.size());
  if (fresh == 0) return Outcome::Duplicate;
  std::memcpy(pool_[e->buffer].data() + offset, payload.data(), payload.size());
  e->received += fresh;
  if (e->received < e->total) return Outcome::Incomplete;
  buffer_out = e->buffer;
  e->buffer = BufferPool::kNone;  // ownership passes to the caller
  release(*e);
  return Outcome::Complete;
}

void Reassembly::drop(std::size_t stream, std::uint64_t seq) {
  if (Entry* e = find(stream, seq)) release(*e);
}

void Reassembly::drop_below(std::size_t stream, std::uint64_t seq) {
  for (Entry& e : entries_)
    if (e.used && e.stream == stream && e.seq < seq) release(e);
}

void Reassembly::clear() {
  for (Entry& e : entries_) release(e);
}

}  // namespace hana::protocol
