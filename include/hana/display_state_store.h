// Receiver-side display state: applies a DisplayGroupUpdate / DisplaySync only if its
// (version, author) stamp is above the one applied for that id (the seed's
// `if sync.version > current`, made total across authors), counts stale ones, and keeps the
// display synchronization metrics (applied version, update age).
// Pure logic, no I/O: hana::DisplayState (display_state.h) feeds it from a Node.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "hana/display_types.h"

namespace hana {

// Per group or display: the seed's "display synchronization metrics".
struct DisplaySyncMetrics {
  DisplayMessageType type = DisplayMessageType::GroupUpdate;
  std::string id;
  std::uint32_t applied_version = 0;
  NodeId applied_author = 0;
  std::uint64_t applied = 0;        // updates applied for this id
  std::uint64_t stale_dropped = 0;  // updates dropped as not newer
  std::uint64_t last_age_us = 0;    // receive time - sender timestamp of the last applied update
  std::uint64_t deadline_missed = 0;  // applied after their apply_at_us (mesh time) had passed
};

struct DisplayStateStats {
  std::uint64_t applied = 0;
  std::uint64_t stale_dropped = 0;
  std::uint64_t malformed = 0;      // bodies that failed to decode (counted, dropped)
  // Updates applied after their apply_at_us had passed: a frame-locked presentation that
  // came too late on this node (a catch-up snapshot to a joiner counts too).
  std::uint64_t deadline_missed = 0;
  std::uint64_t age_p50_us = 0;     // update age over the last kAgeWindow applied updates (both types)
  std::uint64_t age_p99_us = 0;
  std::uint64_t age_max_us = 0;
  std::size_t groups = 0;
  std::size_t displays = 0;
};

class DisplayStateStore {
 public:
  enum class Outcome { Applied, Stale, Malformed };
  static constexpr std::size_t kAgeWindow = 4096;

  DisplayStateStore();

  // Decodes `body` and applies it if its stamp is above the held one. `now_us` is the
  // receiver's mesh time in µs (the timebase of timestamp_us and apply_at_us): update age
  // is now_us - timestamp_us, and an update applied after its apply_at_us is counted in
  // deadline_missed. After Applied, last_group_update() or last_display_sync() (per
  // last_type()) holds the applied message.
  Outcome apply(std::span<const std::uint8_t> body, std::uint64_t now_us);
  // Applies an already decoded message (a node's own updates, snapshots).
  Outcome apply(const DisplayGroupUpdate& update, std::uint64_t now_us);
  Outcome apply(const DisplaySync& sync, std::uint64_t now_us);

  DisplayMessageType last_type() const { return last_type_; }
  const DisplayGroupUpdate& last_group_update() const { return scratch_update_; }
  const DisplaySync& last_display_sync() const { return scratch_sync_; }

  const DisplayGroupUpdate* group(std::string_view id) const;
  const DisplaySync* display(std::string_view id) const;
  std::vector<DisplaySyncMetrics> metrics() const;
  DisplayStateStats stats() const;
  // Every group/display state currently held (for a snapshot to a late joiner).
  template <class F>
  void for_each(F&& f) const {
    for (const auto& [id, e] : groups_) f(e.held);
    for (const auto& [id, e] : displays_) f(e.held);
  }

 private:
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  template <class Message>
  struct Entry {
    Message held;
    DisplaySyncMetrics metrics;
  };
  template <class Message>
  using Map = std::unordered_map<std::string, Entry<Message>, StringHash, std::equal_to<>>;
  // The part of apply() common to groups and displays: the held entry of `m`'s id, updated,
  // or nullptr (counted stale) when `m`'s stamp is not above the held one.
  template <class Message>
  Entry<Message>* store(Map<Message>& map, const Message& m, const std::string& id, DisplayMessageType type,
                        Message& last);
  void record_age(std::uint64_t age_us);
  // Update age and a missed apply_at of an applied message (either type).
  template <class Message>
  void record_timing(const Message& m, DisplaySyncMetrics& metrics, std::uint64_t now_us);

  Map<DisplayGroupUpdate> groups_;
  Map<DisplaySync> displays_;
  DisplayGroupUpdate scratch_update_;
  DisplaySync scratch_sync_;
  DisplayMessageType last_type_ = DisplayMessageType::GroupUpdate;
  std::vector<std::uint64_t> ages_;  // ring of the last kAgeWindow ages
  std::size_t age_next_ = 0;
  std::uint64_t applied_ = 0, stale_ = 0, malformed_ = 0, deadline_missed_ = 0;
};

}  // namespace hana
