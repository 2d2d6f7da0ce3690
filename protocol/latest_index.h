// Sender-side index of latest-value messages by (lane, delivery, key), so coalescing an
// unsent older version is O(1) instead of a scan of the lane queue. Entries are hints
// validated against the message slot (generation, still unsent, same key) by the
// caller; stale ones are simply overwritten, so nothing needs deleting. One entry per
// distinct key ever sent; the table grows only when new keys appear.
#pragma once

#include <cstdint>
#include <vector>

#include "hana/types.h"

namespace hana::protocol {

class LatestIndex {
 public:
  struct Hint {
    std::uint32_t slot = 0;
    std::uint32_t gen = 0;
  };

  const Hint* find(Lane lane, Delivery delivery, std::uint64_t key, bool mesh = false) const {
    if (table_.empty()) return nullptr;
    const std::uint64_t tag = tag_of(lane, delivery, mesh);
    for (std::size_t i = home(key, tag);; i = (i + 1) & (table_.size() - 1)) {
      const Entry& e = table_[i];
      if (!e.used) return nullptr;
      if (e.key == key && e.tag == tag) return &e.hint;
    }
  }

  void put(Lane lane, Delivery delivery, std::uint64_t key, Hint hint, bool mesh = false) {
    if ((used_ + 1) * 2 > table_.size()) grow();
    const std::uint64_t tag = tag_of(lane, delivery, mesh);
    for (std::size_t i = home(key, tag);; i = (i + 1) & (table_.size() - 1)) {
      Entry& e = table_[i];
      if (!e.used) {
        e = Entry{key, tag, hint, true};
        ++used_;
        return;
      }
      if (e.key == key && e.tag == tag) {
        e.hint = hint;
        return;
      }
    }
  }

  std::size_t size() const { return used_; }

 private:
  struct Entry {
    std::uint64_t key = 0;
    std::uint64_t tag = 0;
    Hint hint;
    bool used = false;
  };
  // Mesh-internal messages (kDataMesh) have a key namespace of their own.
  static std::uint64_t tag_of(Lane l, Delivery d, bool mesh) {
    return (static_cast<std::uint64_t>(l) * kDeliveryCount + static_cast<std::uint64_t>(d)) * 2 + (mesh ? 1 : 0);
  }
  std::size_t home(std::uint64_t key, std::uint64_t tag) const {
    return static_cast<std::size_t>(((key ^ (tag << 56)) * 0x9E3779B97F4A7C15ull) >> 17) & (table_.size() - 1);
  }
  void grow() {
    std::vector<Entry> old;
    old.swap(table_);
    table_.resize(old.empty() ? 64 : old.size() * 2);
    used_ = 0;
    for (const Entry& e : old) {
      if (!e.used) continue;
      for (std::size_t i = home(e.key, e.tag);; i = (i + 1) & (table_.size() - 1)) {
        if (!table_[i].used) {
          table_[i] = e;
          ++used_;
          break;
        }
      }
    }
  }

  std::vector<Entry> table_;
  std::size_t used_ = 0;
};

}  // namespace hana::protocol
