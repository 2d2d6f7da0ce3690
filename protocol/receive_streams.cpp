#include "protocol/receive_streams.h"

#include <bit>

namespace hana::protocol {

OrderedStream::Accept OrderedStream::classify(std::uint64_t seq) const {
  if (seq < next_) return Accept::Duplicate;
  if (seq == next_) {
    if (in_window(seq) && slot(seq).state != State::Empty) return Accept::Duplicate;
    return Accept::Deliver;
  }
  if (seq - next_ >= kMaxSpan) return Accept::TooFar;
  if (in_window(seq) && slot(seq).state != State::Empty) return Accept::Duplicate;
  return Accept::Hold;
}

void OrderedStream::grow_to(std::uint64_t span) {
  std::size_t cap = slots_.empty() ? 64 : slots_.size();
  while (cap <= span) cap *= 2;
  if (cap == slots_.size()) return;
  std::vector<Slot> bigger(cap);
  for (std::size_t i = 0; i < slots_.size(); ++i) bigger[i] = slots_[(head_ + i) & (slots_.size() - 1)];
  slots_.swap(bigger);
  head_ = 0;
}

void OrderedStream::hold(std::uint64_t seq, const HeldMessage& m) {
  grow_to(seq - next_);
  Slot& s = slot(seq);
  s.state = State::Present;
  s.msg = m;
  ++held_;
}

void OrderedStream::pop_slot() {
  if (!slots_.empty()) {
    slots_[head_] = Slot{};
    head_ = (head_ + 1) & (slots_.size() - 1);
  }
  ++next_;
}

bool OrderedStream::pop_ready(HeldMessage& out) {
  while (in_window(next_)) {
    Slot& s = slot(next_);
    if (s.state == State::Empty) return false;
    if (s.state == State::Skipped) {
      pop_slot();
      continue;
    }
    out = s.msg;
    --held_;
    pop_slot();
    return true;
  }
  return false;
}

void OrderedStream::skip(std::uint64_t seq) {
  if (seq < next_ || seq - next_ >= kMaxSpan) return;
  grow_to(seq - next_);
  Slot& s = slot(seq);
  if (s.state == State::Empty) s.state = State::Skipped;
  // A message that did arrive is still delivered in order; the skip only stops the wait.
}

bool LatestTable::accept(std::uint64_t key, std::uint64_t version, std::size_t stream) {
  if (used_ * 2 >= table_.size()) grow();
  const std::size_t mask = table_.size() - 1;
  for (std::size_t i = home(key, stream);; i = (i + 1) & mask) {
    Entry& e = table_[i];
    if (!e.used) {
      e = Entry{key, version, static_cast<std::uint32_t>(stream), true};
      ++used_;
      return true;
    }
    if (e.key == key && e.stream == stream) {
      if (version <= e.version) return false;
      e.version = version;
      return true;
    }
  }
}

void LatestTable::grow() {
  std::vector<Entry> old;
  old.swap(table_);
  table_.resize(old.empty() ? 64 : old.size() * 2);
  used_ = 0;
  const std::size_t mask = table_.size() - 1;
  for (const Entry& e : old) {
    if (!e.used) continue;
    std::size_t i = home(e.key, e.stream);
    while (table_[i].used) i = (i + 1) & mask;
    table_[i] = e;
    ++used_;
  }
}

}  // namespace hana::protocol
