#include "hana/display_state_store.h"

#include <algorithm>

namespace hana {

DisplayStateStore::DisplayStateStore() { ages_.reserve(kAgeWindow); }

void DisplayStateStore::record_age(std::uint64_t age_us) {
  if (ages_.size() < kAgeWindow) ages_.push_back(age_us);
  else ages_[age_next_] = age_us;
  age_next_ = (age_next_ + 1) % kAgeWindow;
}

DisplayStateStore::Outcome DisplayStateStore::apply(std::span<const std::uint8_t> body, std::uint64_t now_us) {
  DisplayMessageType type{};
  DisplayDecodeError err{};
  if (!peek_display_message_type(body, type)) return ++malformed_, Outcome::Malformed;
  if (type == DisplayMessageType::GroupUpdate) {
    if (!decode_display_message(body, scratch_update_, err)) return ++malformed_, Outcome::Malformed;
    return apply(scratch_update_, now_us);
  }
  if (!decode_display_message(body, scratch_sync_, err)) return ++malformed_, Outcome::Malformed;
  return apply(scratch_sync_, now_us);
}

template <class Message>
DisplayStateStore::Entry<Message>* DisplayStateStore::store(Map<Message>& map, const Message& m, const std::string& id,
                                                            DisplayMessageType type, Message& last) {
  auto it = map.find(std::string_view(id));
  if (it == map.end()) {
    it = map.emplace(id, Entry<Message>{}).first;
    it->second.metrics.type = type;
    it->second.metrics.id = id;
  } else if (stamp_of(m) <= stamp_of(it->second.held)) {
    ++it->second.metrics.stale_dropped;
    ++stale_;
    return nullptr;
  }
  Entry<Message>& e = it->second;
  // `m` may be the held value itself or the decode scratch (`last`): copy only what differs.
  if (&m != &e.held) e.held = m;
  if (&m != &last) last = m;
  e.metrics.applied_version = m.version;
  e.metrics.applied_author = m.author;
  ++e.metrics.applied;
  last_type_ = type;
  ++applied_;
  return &e;
}

template <class Message>
void DisplayStateStore::record_timing(const Message& m, DisplaySyncMetrics& metrics, std::uint64_t now_us) {
  metrics.last_age_us = now_us > m.timestamp_us ? now_us - m.timestamp_us : 0;
  record_age(metrics.last_age_us);
  if (m.apply_at_us != 0 && now_us > m.apply_at_us) {
    ++metrics.deadline_missed;
    ++deadline_missed_;
  }
}

DisplayStateStore::Outcome DisplayStateStore::apply(const DisplayGroupUpdate& u, std::uint64_t now_us) {
  auto* e = store(groups_, u, u.group_id, DisplayMessageType::GroupUpdate, scratch_update_);
  if (!e) return Outcome::Stale;
  record_timing(u, e->metrics, now_us);
  return Outcome::Applied;
}

DisplayStateStore::Outcome DisplayStateStore::apply(const DisplaySync& s, std::uint64_t now_us) {
  auto* e = store(displays_, s, s.display_id, DisplayMessageType::DisplaySync, scratch_sync_);
  if (!e) return Outcome::Stale;
  record_timing(s, e->metrics, now_us);
  return Outcome::Applied;
}

const DisplayGroupUpdate* DisplayStateStore::group(std::string_view id) const {
  auto it = groups_.find(id);
  return it == groups_.end() ? nullptr : &it->second.held;
}

const DisplaySync* DisplayStateStore::display(std::string_view id) const {
  auto it = displays_.find(id);
  return it == displays_.end() ? nullptr : &it->second.held;
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
  s.deadline_missed = deadline_missed_;
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
