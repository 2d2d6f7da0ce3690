// The failure detector on its own terms: a crashed member goes Alive -> Suspect -> Dead
// through probes (direct, then indirect), and a member that was only cut off refutes the
// suspicion with a higher incarnation before its timeout, so nobody declares it Dead.
#include <gtest/gtest.h>

#include <map>
#include <variant>
#include <vector>

#include "protocol/codec.h"
#include "topology/bodies.h"
#include "topology/failure_detector.h"
#include "topology/sim/cluster.h"

namespace hana::topology::test {
namespace {

constexpr TimeNs kSec = kNsPerSec;

TEST(FailureDetector, CrashedMemberIsProbedSuspectedAndDeclaredDead) {
  Cluster c({.nodes = 4, .seed = 21});
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 5 * kSec));
  c.kill(3);
  ASSERT_TRUE(c.run_until([&] { return c.all_see(3, MemberState::Dead); }, 5 * kSec));
  std::uint64_t probes = 0, indirect = 0, suspicions = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    const auto& k = c.node(i).counters();
    probes += k.probes;
    indirect += k.indirect_probes;
    suspicions += k.suspicions;
    EXPECT_EQ(k.declared_dead, 1u) << i;
  }
  EXPECT_GT(probes, 0u);
  EXPECT_GE(indirect, 1u);  // nobody suspects before asking others to probe
  EXPECT_GE(suspicions, 1u);
}

// A direct PING names no target (wire version 2): whoever holds the address answers. When
// another node holds a dead member's address and answers every probe sent there, its acks
// carry its own id and the member is still declared Dead.
TEST(FailureDetector, AnAckFromAnotherNodeAtTheAddressIsNotTheMembers) {
  Cluster c({.nodes = 4, .seed = 23});
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 5 * kSec));
  c.kill(3);
  constexpr NodeId kStranger = 0x5752414e47455231ull;
  std::vector<std::pair<std::size_t, std::vector<std::uint8_t>>> answers;  // (to node, datagram)
  c.on_send = [&](std::size_t from, const Address& to, std::span<std::uint8_t> b, std::size_t n) {
    if (!(to == Cluster::address(3))) return n;
    const protocol::DecodeResult r = protocol::decode_datagram(Bytes(b.data(), n));
    if (!r.datagram) return n;
    protocol::FrameReader frames(r.datagram->frames);
    protocol::Frame f;
    while (frames.next(f)) {
      const auto* g = std::get_if<protocol::GossipFrame>(&f);
      GossipView v;
      if (!g || !decode_gossip(g->body, v) || v.header.kind != GossipKind::Ping || v.header.relay_for != 0) continue;
      std::vector<std::uint8_t> body(64);
      BodyWriter w(body);
      GossipHeader ack;
      ack.kind = GossipKind::Ack;
      ack.sender = kStranger;
      ack.seq = v.header.seq;
      encode_gossip_header(w, ack);
      body.resize(w.size());
      std::vector<std::uint8_t> d(128);
      protocol::Header h;
      h.flags = protocol::kFlagShortChecksum | protocol::kFlagConnectionless;
      protocol::DatagramWriter dw(d, d.size(), h);
      EXPECT_TRUE(dw.append(protocol::GossipFrame{Bytes(body)}));
      d.resize(dw.finish());
      answers.emplace_back(from, std::move(d));
    }
    return n;
  };
  std::size_t answered = 0;
  ASSERT_TRUE(c.run_until(
      [&] {
        for (auto& [to, d] : answers) c.network().send(Cluster::address(3), Cluster::address(to), d, c.now());
        answered += answers.size();
        answers.clear();
        return c.all_see(3, MemberState::Dead);
      },
      5 * kSec, kNsPerMs));
  EXPECT_GT(answered, 0u) << "nobody probed the dead member's address";
}

TEST(FailureDetector, CutOffMemberRefutesBeforeItsTimeout) {
  Config config;
  config.suspicion_mult = 4;  // a 200 ms floor: room for the notice to get through
  Cluster c({.nodes = 4, .seed = 22, .config = config});
  std::map<std::size_t, int> downs;
  bool suspected = false;
  c.on_event = [&](std::size_t n, const MeshEvent& e, TimeNs) {
    if (const auto* s = std::get_if<PeerSuspect>(&e); s && s->peer == Cluster::id(3)) suspected = true;
    if (std::holds_alternative<PeerDown>(e)) ++downs[n];
  };
  c.start_all();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 5 * kSec));
  const std::uint64_t incarnation = c.node(3).incarnation();
  const std::uint64_t refutations = c.node(3).counters().refutations;
  suspected = false;
  c.network().partition({{Cluster::address(0), Cluster::address(1), Cluster::address(2)}, {Cluster::address(3)}});
  ASSERT_TRUE(c.run_until([&] { return suspected; }, 5 * kSec, 100'000));
  c.network().heal();
  ASSERT_TRUE(c.run_until([&] { return c.converged(); }, 5 * kSec));
  EXPECT_GT(c.node(3).counters().refutations, refutations);
  EXPECT_GT(c.node(3).incarnation(), incarnation);
  EXPECT_TRUE(downs.empty()) << "a member that refuted in time was declared Dead";
}

}  // namespace
}  // namespace hana::topology::test

namespace hana::topology::test {
namespace {

// The ack wait rises with slow acks and comes back to the knob's floor within a handful of
// quick ones (a stretched probe period brings few samples); without samples it holds.
TEST(AckWaitEstimator, RisesWithSlowAcksAndFallsBackWithinAHandfulOfQuickOnes) {
  const TimeNs floor = 10 * kNsPerMs;
  AckWait w;
  EXPECT_EQ(w.wait(floor), floor);
  w.add(100 * kNsPerUs);
  EXPECT_EQ(w.wait(floor), floor);
  for (int i = 0; i < 4; ++i) w.add(300 * kNsPerMs);
  const TimeNs slow = w.wait(floor);
  EXPECT_GE(slow, 300 * kNsPerMs);
  EXPECT_LE(slow, AckWait::kMaxAckWaitNs);
  EXPECT_EQ(w.wait(floor), slow);  // no samples: it holds
  int quick = 0;
  while (w.wait(floor) > floor && quick < 100) {
    w.add(100 * kNsPerUs);
    ++quick;
  }
  EXPECT_LE(quick, 10);
  for (int i = 0; i < 20; ++i) w.add(5 * kNsPerSec);  // an ack seconds late
  EXPECT_EQ(w.wait(floor), AckWait::kMaxAckWaitNs);
}

}  // namespace
}  // namespace hana::topology::test
