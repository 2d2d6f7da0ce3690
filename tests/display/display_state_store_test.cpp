// The seed's rule: apply only version > current; stale versions counted, never applied.
#include <gtest/gtest.h>

#include "hana/display_state_store.h"

namespace hana {
namespace {

DisplayGroupUpdate update(std::string id, std::uint32_t version, std::uint64_t ts = 1000, NodeId author = 1) {
  DisplayGroupUpdate u;
  u.group_id = std::move(id);
  u.version = version;
  u.author = author;
  u.timestamp_us = ts;
  u.position = {static_cast<float>(version), 0, 0};
  return u;
}

std::vector<std::uint8_t> encode(const DisplayGroupUpdate& u) {
  std::vector<std::uint8_t> b(kMaxGroupUpdateBytes);
  b.resize(*encode_display_message(u, b));
  return b;
}

TEST(DisplayStateStore, AppliesOnlyNewerVersionsPerGroup) {
  DisplayStateStore store;
  EXPECT_EQ(store.apply(update("a", 5), 1100), DisplayStateStore::Outcome::Applied);
  EXPECT_EQ(store.apply(update("a", 5), 1100), DisplayStateStore::Outcome::Stale);  // same version
  EXPECT_EQ(store.apply(update("a", 4), 1100), DisplayStateStore::Outcome::Stale);  // older
  EXPECT_EQ(store.apply(update("b", 1), 1100), DisplayStateStore::Outcome::Applied);  // other group
  EXPECT_EQ(store.apply(update("a", 9), 1100), DisplayStateStore::Outcome::Applied);
  ASSERT_NE(store.group("a"), nullptr);
  EXPECT_EQ(store.group("a")->version, 9u);
  EXPECT_EQ(store.group("a")->position.x, 9.0f);  // the stale v4 never overwrote anything
  const auto s = store.stats();
  EXPECT_EQ(s.applied, 3u);
  EXPECT_EQ(s.stale_dropped, 2u);
  EXPECT_EQ(s.groups, 2u);
  const auto m = store.metrics();
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].id, "a");
  EXPECT_EQ(m[0].applied_version, 9u);
  EXPECT_EQ(m[0].stale_dropped, 2u);
}

TEST(DisplayStateStore, EqualVersionsFromTwoAuthorsOrderByAuthorId) {
  // Whatever order two concurrent authors' updates arrive in, every store keeps the same one.
  DisplayStateStore first_low, first_high;
  const DisplayGroupUpdate low = update("g", 4, 1000, 7), high = update("g", 4, 1000, 9);
  EXPECT_EQ(first_low.apply(low, 0), DisplayStateStore::Outcome::Applied);
  EXPECT_EQ(first_low.apply(high, 0), DisplayStateStore::Outcome::Applied);
  EXPECT_EQ(first_high.apply(high, 0), DisplayStateStore::Outcome::Applied);
  EXPECT_EQ(first_high.apply(low, 0), DisplayStateStore::Outcome::Stale);
  EXPECT_EQ(first_low.group("g")->author, 9u);
  EXPECT_EQ(*first_low.group("g"), *first_high.group("g"));
  EXPECT_EQ(first_low.metrics()[0].applied_author, 9u);
  // A higher version wins whatever its author.
  EXPECT_EQ(first_high.apply(update("g", 5, 1000, 1), 0), DisplayStateStore::Outcome::Applied);
  EXPECT_EQ(first_high.group("g")->author, 1u);
}

TEST(DisplayStateStore, DecodesBodiesAndCountsMalformed) {
  DisplayStateStore store;
  const auto body = encode(update("g", 3, 1000));
  EXPECT_EQ(store.apply(body, 1250), DisplayStateStore::Outcome::Applied);
  EXPECT_EQ(store.last_type(), DisplayMessageType::GroupUpdate);
  EXPECT_EQ(store.last_group_update().group_id, "g");
  std::vector<std::uint8_t> bad = body;
  bad.pop_back();
  EXPECT_EQ(store.apply(bad, 1250), DisplayStateStore::Outcome::Malformed);
  EXPECT_EQ(store.stats().malformed, 1u);
  EXPECT_EQ(store.metrics()[0].last_age_us, 250u);
}

TEST(DisplayStateStore, DisplaySyncVersions) {
  DisplayStateStore store;
  DisplaySync s;
  s.display_id = "wall";
  s.version = 2;
  s.windows.push_back({1, {0, 0, 10, 10}, 0, true});
  EXPECT_EQ(store.apply(s, 0), DisplayStateStore::Outcome::Applied);
  s.windows.clear();
  s.version = 1;
  EXPECT_EQ(store.apply(s, 0), DisplayStateStore::Outcome::Stale);
  ASSERT_NE(store.display("wall"), nullptr);
  EXPECT_EQ(store.display("wall")->windows.size(), 1u);
}

TEST(DisplayStateStore, AgePercentilesOverTheWindow) {
  DisplayStateStore store;
  for (std::uint32_t v = 1; v <= 100; ++v) store.apply(update("g", v, 0), v);  // ages 1..100 us
  const auto s = store.stats();
  EXPECT_EQ(s.age_p50_us, 51u);
  EXPECT_EQ(s.age_p99_us, 100u);
  EXPECT_EQ(s.age_max_us, 100u);
}

TEST(DisplayStateStore, DisplaySyncHasAnAgeAndDeadlinesMissedAreCounted) {
  DisplayStateStore store;
  DisplaySync sync;
  sync.display_id = "wall";
  sync.version = 1;
  sync.author = 1;
  sync.timestamp_us = 5000;
  sync.apply_at_us = 5200;
  ASSERT_EQ(store.apply(sync, 5100), DisplayStateStore::Outcome::Applied);  // in time
  EXPECT_EQ(store.metrics()[0].last_age_us, 100u) << "DisplaySync is stamped too";
  sync.version = 2;
  ASSERT_EQ(store.apply(sync, 5300), DisplayStateStore::Outcome::Applied);  // 100 us too late
  auto g = update("g", 1, 5000);
  g.apply_at_us = 5050;
  ASSERT_EQ(store.apply(encode(g), 5060), DisplayStateStore::Outcome::Applied);  // decoded with its deadline
  EXPECT_EQ(store.last_group_update().apply_at_us, 5050u);
  g.version = 2;
  g.apply_at_us = 0;  // no deadline: never missed
  ASSERT_EQ(store.apply(g, 9000), DisplayStateStore::Outcome::Applied);
  const auto s = store.stats();
  EXPECT_EQ(s.deadline_missed, 2u);
  for (const auto& m : store.metrics()) EXPECT_EQ(m.deadline_missed, 1u) << m.id;
}

}  // namespace
}  // namespace hana
