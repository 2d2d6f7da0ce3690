// Reassembly limits, ordered/unordered sequence tracking, latest-value table.
#include <algorithm>
#include <gtest/gtest.h>

#include <vector>

#include "protocol/buffer_pool.h"
#include "protocol/reassembly.h"
#include "protocol/receive_streams.h"
#include "protocol/seq_window.h"

namespace hana::protocol {
namespace {

std::vector<std::uint8_t> pattern(std::size_t n) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(i * 13 + 1);
  return v;
}

TEST(Reassembly, OutOfOrderOverlappingAndDuplicateFragments) {
  BufferPool pool;
  Reassembly r(pool);
  const auto msg = pattern(1000);
  auto frag = [&](std::size_t off, std::size_t len) { return Bytes(msg.data() + off, len); };
  std::uint32_t buf = BufferPool::kNone;
  EXPECT_EQ(r.add(0, 5, 1000, 600, frag(600, 400), false, 1 << 20, buf), Reassembly::Outcome::Incomplete);
  EXPECT_EQ(r.bytes(), 1000u);
  EXPECT_EQ(r.add(0, 5, 1000, 600, frag(600, 400), false, 1 << 20, buf), Reassembly::Outcome::Duplicate);
  EXPECT_EQ(r.add(0, 5, 1000, 0, frag(0, 300), false, 1 << 20, buf), Reassembly::Outcome::Incomplete);
  EXPECT_EQ(r.add(0, 5, 999, 0, frag(0, 300), false, 1 << 20, buf), Reassembly::Outcome::Inconsistent);
  // Overlaps both neighbours: only the gap counts.
  ASSERT_EQ(r.add(0, 5, 1000, 200, frag(200, 500), false, 1 << 20, buf), Reassembly::Outcome::Complete);
  ASSERT_NE(buf, BufferPool::kNone);
  EXPECT_TRUE(std::equal(pool[buf].begin(), pool[buf].end(), msg.begin(), msg.end()));
  EXPECT_EQ(r.bytes(), 0u);
  EXPECT_EQ(r.partials(), 0u);
  pool.release(buf);
}

// Buffers keep their capacity up to a budget, so a stream of 1 MiB messages does not
// allocate, zero and fault in a fresh megabyte per message; beyond the budget they shrink.
TEST(BufferPool, ReleasedBuffersKeepTheirCapacityWithinABudget) {
  BufferPool pool;
  const std::uint32_t a = pool.acquire(1 << 20);
  const std::uint8_t* const first = pool[a].data();
  pool.release(a);
  EXPECT_GE(pool.kept_bytes(), std::size_t{1} << 20);
  const std::uint32_t b = pool.acquire(1 << 20);
  EXPECT_EQ(pool[b].data(), first) << "the same memory, no new allocation";
  EXPECT_EQ(pool.kept_bytes(), 0u);
  std::vector<std::uint32_t> held{b};
  for (int i = 0; i < 7; ++i) held.push_back(pool.acquire(1 << 20));
  for (std::uint32_t i : held) pool.release(i);
  EXPECT_LE(pool.kept_bytes(), BufferPool::kKeepFreeBytes);
}

TEST(Reassembly, MemoryBudgetIsEnforced) {
  BufferPool pool;
  Reassembly r(pool);
  const auto msg = pattern(100);
  std::uint32_t buf = BufferPool::kNone;
  EXPECT_EQ(r.add(0, 1, 60'000, 0, msg, false, 100'000, buf), Reassembly::Outcome::Incomplete);
  EXPECT_EQ(r.add(0, 2, 60'000, 0, msg, false, 100'000 - 60'000, buf), Reassembly::Outcome::LimitExceeded);
  // Fragments of a message already being reassembled need no new budget.
  EXPECT_EQ(r.add(0, 1, 60'000, 100, msg, false, 0, buf), Reassembly::Outcome::Incomplete);
  r.drop(0, 1);
  EXPECT_EQ(r.bytes(), 0u);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(Reassembly, PartialCountIsCappedAndUnreliablePartialsAreEvicted) {
  BufferPool pool;
  Reassembly r(pool);
  const auto msg = pattern(10);
  std::uint32_t buf = BufferPool::kNone;
  for (std::uint64_t s = 0; s < Reassembly::kMaxUnreliablePartials + 5; ++s)
    ASSERT_EQ(r.add(3, s, 20, 0, msg, true, 1 << 30, buf), Reassembly::Outcome::Incomplete);
  EXPECT_EQ(r.partials(), Reassembly::kMaxUnreliablePartials);
  EXPECT_EQ(r.evicted(), 5u);
  r.clear();
  for (std::uint64_t s = 0; s < Reassembly::kMaxPartials; ++s)
    ASSERT_EQ(r.add(0, s, 20, 0, msg, false, 1 << 30, buf), Reassembly::Outcome::Incomplete);
  EXPECT_EQ(r.add(0, 99'999, 20, 0, msg, false, 1 << 30, buf), Reassembly::Outcome::LimitExceeded);
  r.drop_below(0, 10);
  EXPECT_EQ(r.partials(), Reassembly::kMaxPartials - 10);
}

TEST(SeqWindow, TracksSeenSequencesAndSlides) {
  SeqWindow w;
  EXPECT_EQ(w.mark(1), SeqWindow::Mark::New);
  EXPECT_EQ(w.mark(1), SeqWindow::Mark::Seen);
  EXPECT_EQ(w.base(), 0u);
  EXPECT_EQ(w.mark(0), SeqWindow::Mark::New);
  EXPECT_EQ(w.base(), 2u);
  for (std::uint64_t s = 1000; s > 2; --s) ASSERT_EQ(w.mark(s), SeqWindow::Mark::New) << s;
  EXPECT_EQ(w.mark(2), SeqWindow::Mark::New);
  EXPECT_EQ(w.base(), 1001u);
  for (std::uint64_t s = 0; s <= 1000; ++s) ASSERT_TRUE(w.seen(s));
  EXPECT_FALSE(w.seen(1001));
  EXPECT_EQ(w.mark(1001 + SeqWindow::kMaxSpan), SeqWindow::Mark::TooFar);
}

TEST(OrderedStream, HoldsUntilGapFillsAndSkipsGivenUpSequences) {
  OrderedStream s;
  EXPECT_EQ(s.classify(0), OrderedStream::Accept::Deliver);
  EXPECT_EQ(s.classify(2), OrderedStream::Accept::Hold);
  s.hold(2, HeldMessage{7, false, 0, 0});
  s.hold(3, HeldMessage{8, false, 0, 0});
  EXPECT_EQ(s.classify(2), OrderedStream::Accept::Duplicate);
  HeldMessage h;
  EXPECT_FALSE(s.pop_ready(h));
  s.advance();  // 0 delivered
  EXPECT_FALSE(s.pop_ready(h));
  s.skip(1);  // sender gave up on 1
  ASSERT_TRUE(s.pop_ready(h));
  EXPECT_EQ(h.buffer, 7u);
  ASSERT_TRUE(s.pop_ready(h));
  EXPECT_EQ(h.buffer, 8u);
  EXPECT_FALSE(s.pop_ready(h));
  EXPECT_EQ(s.next(), 4u);
  EXPECT_EQ(s.classify(1), OrderedStream::Accept::Duplicate);
  EXPECT_EQ(s.classify(4 + OrderedStream::kMaxSpan), OrderedStream::Accept::TooFar);
  EXPECT_EQ(s.held_count(), 0u);
}

TEST(LatestTable, AcceptsOnlyNewerVersionsPerKey) {
  LatestTable t;
  EXPECT_TRUE(t.accept(1, 0));
  EXPECT_FALSE(t.accept(1, 0));
  EXPECT_TRUE(t.accept(1, 5));
  EXPECT_FALSE(t.accept(1, 4));
  for (std::uint64_t k = 2; k < 1000; ++k) ASSERT_TRUE(t.accept(k, k));
  for (std::uint64_t k = 2; k < 1000; ++k) ASSERT_FALSE(t.accept(k, k)) << k;
  EXPECT_TRUE(t.accept(1, 6));
  EXPECT_EQ(t.size(), 999u);
  EXPECT_TRUE(t.accept(1, 1, 5)) << "streams are separate key spaces";
  EXPECT_FALSE(t.accept(1, 1, 5));
  EXPECT_FALSE(t.accept(1, 6, 0));
}

}  // namespace
}  // namespace hana::protocol
