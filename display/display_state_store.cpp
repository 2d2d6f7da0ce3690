#include "hana/display_state_store.h"

#include <algorithm>

namespace hana {

DisplayStateStore::DisplayStateStore() { ages_.reserve(kAgeWindow); }

void DisplayStateStore::record_age(std::uint64_t age_us) {
  if (ages_.size() < kAgeWindow) ages_.push_back(age_us);
  else ages_[age_next_] = age_us;
  age_next_ = (age_next_ + 1) % kAgeWindow;
}

DisplayStateStore::Outcome DisplayStateStore::apply(std::span<const std::uint8_t> body, std::uint64_t now_wall_us) {
  DisplayMessageType type{};
  DisplayDecodeError err{};
  if (!peek_display_message_type(body, type)) return ++malformed_, Outcome::Malformed;
  if (type == DisplayMessageType::GroupUpdate) {
    if (!decode_display_message(body, scratch_update_, err)) return ++malformed_, Outcome::Malformed;
    return apply(scratch_update_, now_wall_us);
  }
  if (!decode_display_message(body, scratch_sync_, err)) return ++malformed_, Outcome::Malformed;
  return apply(scratch_sync_, now_wall_us);
}

DisplayStateStore::Outcome DisplayStateStore::apply(const DisplayGroupUpdate& u, std::uint64_t now_wall_us) {
  auto it = groups_.find(std::string_view(u.group_id));
  if (it == groups_.end()) {
    it = groups_.emplace(u.group_id, GroupEntry{}).first;
    it->second.metrics.type = DisplayMessageType::GroupUpdate;
    it->second.metrics.id = u.group_id;
  } else if (stamp_of(u) <= stamp_of(it->second.update)) {
    ++it->second.metrics.stale_dropped;
    return ++stale_, Outcome::Stale;
  }
  GroupEntry& e = it->second;
  if (&u != &e.update) e.update = u;
  if (&u != &scratch_update_) scratch_update_ = u;
  e.metrics.applied_version = u.version;
  e.metrics.applied_author = u.author;
  ++e.metrics.applied;
  e.metrics.last_age_us = now_wall_us > u.timestamp_us ? now_wall_us - u.timestamp_us : 0;
  record_age(e.metrics.last_age_us);
  last_type_ = DisplayMessageType::GroupUpdate;
  return ++applied_, Outcome::Applied;
}

DisplayStateStore::Outcome DisplayStateStore::apply(const DisplaySync& s, std::uint64_t) {
  auto it = displays_.find(std::string_view(s.display_id));
  if (it == displays_.end()) {
    it = displays_.emplace(s.display_id, DisplayEntry{}).first;
    it->second.metrics.type = DisplayMessageType::DisplaySync;
    it->second.metrics.id = s.display_id;
  } else if (stamp_of(s) <= stamp_of(it->second.sync)) {
    ++it->second.metrics.stale_dropped;
    return ++stale_, Outcome::Stale;
  }
  DisplayEntry& e = it->second;
  if (&s != &e.sync) e.sync = s;
  if (&s != &scratch_sync_) scratch_sync_ = s;
  e.metrics.applied_version = s.version;
  e.metrics.applied_author = s.author;
  ++e.metrics.applied;
  last_type_ = DisplayMessageType::DisplaySync;
  return ++applied_, Outcome::Applied;
}

const DisplayGroupUpdate* DisplayStateStore::group(std::string_view id) const {
  auto it = groups_.find(id);
  return it == groups_.end() ? nullptr : &it->second.update;
}

const DisplaySync* DisplayStateStore::display(std::string_view id) const {
  auto it = displays_.find(id);
  return it == displays_.end() ? nullptr : &it->second.sync;
}

std::vector<DisplaySyncMetrics> DisplayStateStore::metrics() const {
  std::vector<DisplaySyncMetrics> out;
  out.reserve(groups_.size() + displays_.size());
  for (const auto& [id, e] : groups_) out.push_back(e.metrics);
  for (const auto& [id, e] : displays_) out.push_back(e.metrics);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

DisplayStateStats DisplayStateStore::stats() const {
  DisplayStateStats s;
  s.applied = applied_;
  s.stale_dropped = stale_;
  s.malformed = malformed_;
  s.groups = groups_.size();
  s.displays = displays_.size();
  if (!ages_.empty()) {
    std::vector<std::uint64_t> sorted = ages_;
    std::sort(sorted.begin(), sorted.end());
    s.age_p50_us = sorted[sorted.size() / 2];
    s.age_p99_us = sorted[std::min(sorted.size() - 1, sorted.size() * 99 / 100)];
    s.age_max_us = sorted.back();
  }
  return s;
}

}  // namespace hana
