// Display state across authors, over real nodes on loopback: versions assigned by
// DisplayState (version 0), ordered by (version, author), and caught up from any holder, so
// an author's death, restart or a concurrent author never freezes or splits the wall.
#include <gtest/gtest.h>

#include "display_harness.h"

namespace hana::test {
namespace {

// True when `n` holds group `id` stamped (version, author).
bool holds(const DisplayNode& n, const std::string& id, std::uint32_t version, NodeId author) {
  const DisplayGroupUpdate* g = n.group(id);
  return g && g->version == version && g->author == author;
}

// `author` writes `count` auto-versioned updates of `id`, then every node in `all` holds the last.
void author_updates(DisplayNode& author, const std::vector<DisplayNode*>& all, const std::string& id, int count) {
  for (int i = 1; i <= count; ++i) ASSERT_TRUE(author.display->propagate_group_update(group_at(id, float(i))).ok());
  ASSERT_TRUE(holds(author, id, static_cast<std::uint32_t>(count), author.id()));  // versions 1..count
  const NodeId author_id = author.id();
  ASSERT_TRUE(pump_displays(all, [&] {
    for (const DisplayNode* n : all)
      if (!holds(*n, id, static_cast<std::uint32_t>(count), author_id)) return false;
    return true;
  }));
}

// Three nodes seeded so that they mesh: b knows a, c knows both.
struct Trio {
  DisplayNode a, b, c;
  bool started() const { return a.node && b.node && c.node; }
};

Trio start_trio() {
  Trio t;
  t.a = start_display_node();
  if (t.a.node) t.b = start_display_node({t.a.node->local_address()});
  if (t.b.node) t.c = start_display_node({t.a.node->local_address(), t.b.node->local_address()});
  return t;
}

TEST(DisplayAuthors, AuthorDiesAndAnotherContinuesAboveItsVersions) {
  Trio t = start_trio();
  ASSERT_TRUE(t.started());
  DisplayNode &a = t.a, &b = t.b, &c = t.c;
  author_updates(a, {&a, &b, &c}, "wall", 20);

  a.kill();
  // b never counted a version itself: version 0 still lands above the 20 a wrote.
  EXPECT_EQ(b.display->next_group_version("wall"), 21u);
  NodeId from = 0;
  c.display->on_group_update([&](const DisplayGroupUpdate&, NodeId peer) { from = peer; });
  ASSERT_TRUE(b.display->propagate_group_update(group_at("wall", 100)).ok());
  ASSERT_TRUE(pump_displays({&b, &c}, [&] { return holds(c, "wall", 21, b.id()); }));
  EXPECT_EQ(c.group("wall")->position.x, 100.0f);
  EXPECT_EQ(from, b.id());
}

TEST(DisplayAuthors, LateJoinerAfterTheAuthorsDeathCatchesUpFromAHolder) {
  DisplayNode a = start_display_node();
  ASSERT_TRUE(a.node);
  DisplayNode b = start_display_node({a.node->local_address()});
  ASSERT_TRUE(b.node);
  author_updates(a, {&a, &b}, "wall", 5);
  DisplaySync sync;
  sync.display_id = "wall-left";
  sync.windows.push_back({1, {0, 0, 640, 480}, 0, true});
  ASSERT_TRUE(a.display->propagate_display_sync(sync).ok());
  ASSERT_TRUE(pump_displays({&a, &b}, [&] { return b.display->store().display("wall-left") != nullptr; }));
  const NodeId a_id = a.id();
  a.kill();

  // c knows only b, which holds a's state without having written any of it.
  DisplayNode c = start_display_node({b.node->local_address()});
  ASSERT_TRUE(c.node);
  ASSERT_TRUE(pump_displays({&b, &c}, [&] {
    return holds(c, "wall", 5, a_id) && c.display->store().display("wall-left") != nullptr;
  }));
  EXPECT_EQ(c.group("wall")->position.x, 5.0f);
  EXPECT_EQ(c.display->store().display("wall-left")->author, a_id);
  EXPECT_EQ(c.display->store().display("wall-left")->windows, sync.windows);
}

TEST(DisplayAuthors, TwoConcurrentAuthorsConvergeOnTheSameLastWriter) {
  Trio t = start_trio();
  ASSERT_TRUE(t.started());
  DisplayNode &a = t.a, &b = t.b, &c = t.c;
  // Neither has seen the other's update: both take version 1, and the author id decides.
  ASSERT_TRUE(a.display->propagate_group_update(group_at("wall", 1)).ok());
  ASSERT_TRUE(b.display->propagate_group_update(group_at("wall", 2)).ok());
  const NodeId winner = std::max(a.id(), b.id());
  const float winner_x = winner == a.id() ? 1.0f : 2.0f;
  ASSERT_TRUE(pump_displays({&a, &b, &c}, [&] {
    return holds(a, "wall", 1, winner) && holds(b, "wall", 1, winner) && holds(c, "wall", 1, winner);
  }));
  EXPECT_EQ(a.group("wall")->position.x, winner_x);
  EXPECT_EQ(*a.group("wall"), *b.group("wall"));
  EXPECT_EQ(*b.group("wall"), *c.group("wall"));
  // The loser's next auto version goes above the winner's: it can still write.
  DisplayNode& loser = winner == a.id() ? b : a;
  ASSERT_TRUE(loser.display->propagate_group_update(group_at("wall", 3)).ok());
  ASSERT_TRUE(pump_displays({&a, &b, &c}, [&] {
    return holds(a, "wall", 2, loser.id()) && holds(b, "wall", 2, loser.id()) && holds(c, "wall", 2, loser.id());
  }));
}

TEST(DisplayAuthors, RestartedAuthorWhoseCounterStartsAtZeroIsAppliedAgain) {
  constexpr NodeId kAuthorId = 0xA17;  // the same identity before and after the restart
  DisplayNode a = start_display_node({}, kAuthorId);
  ASSERT_TRUE(a.node);
  DisplayNode b = start_display_node({a.node->local_address()});
  ASSERT_TRUE(b.node);
  author_updates(a, {&a, &b}, "wall", 30);
  a.kill();

  DisplayNode restarted = start_display_node({b.node->local_address()}, kAuthorId);
  ASSERT_TRUE(restarted.node);
  // Knowing nothing yet, its first version is 1: below b's (30, a), so not applied there...
  ASSERT_TRUE(restarted.display->propagate_group_update(group_at("wall", -1)).ok());
  EXPECT_EQ(restarted.group("wall")->version, 1u);
  // ...until it has caught up from b; then its next version goes above every earlier one.
  ASSERT_TRUE(pump_displays({&b, &restarted}, [&] { return holds(restarted, "wall", 30, kAuthorId); }));
  EXPECT_EQ(restarted.group("wall")->position.x, 30.0f);
  ASSERT_TRUE(restarted.display->propagate_group_update(group_at("wall", 31)).ok());
  ASSERT_TRUE(pump_displays({&b, &restarted}, [&] { return holds(b, "wall", 31, kAuthorId); }));
  EXPECT_EQ(b.group("wall")->position.x, 31.0f);
}

}  // namespace
}  // namespace hana::test
