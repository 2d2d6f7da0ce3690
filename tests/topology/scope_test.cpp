// IPv6 link-local addresses across hosts, sans-IO: a scope (interface index) is local to
// each host and never on the wire, so a link-local address a node hears about (in a beacon
// or in gossip) must take the scope of the interface the datagram came in on. Three hosts
// on one link, each with its own index for it; a tiny router hands every datagram to its
// receiver with the sender's address scoped the receiver's way.
#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <vector>

#include "topology/mesh.h"

namespace hana::topology::test {
namespace {

struct Host {
  std::unique_ptr<Mesh> mesh;
  Address listen;          // as the host itself sees it (its own scope)
  std::uint32_t link_index;  // this host's index for the shared link
  bool hears_beacons;
};

Address scoped(const char* text, std::uint32_t scope) {
  Address a = *Address::parse(text);
  a.scope_id = scope;
  return a;
}

class Link {
 public:
  std::vector<Host> hosts;

  // Delivers every queued datagram, then advances to the next deadline; bounded.
  template <class Done>
  bool run_until(Done done, TimeNs limit_ns) {
    std::array<std::uint8_t, 1500> buf{};
    for (int turn = 0; turn < 200'000 && now_ < limit_ns; ++turn) {
      if (done()) return true;
      bool moved = false;
      for (std::size_t s = 0; s < hosts.size(); ++s) {
        while (auto t = hosts[s].mesh->poll_transmit(buf, now_)) {
          moved = true;
          for (Host& r : hosts) {
            if (&r == &hosts[s]) continue;
            const bool group = t->to.is_multicast();
            const bool addressed = t->to.ip == r.listen.ip && t->to.port == r.listen.port;
            if ((group && !r.hears_beacons) || (!group && !addressed)) continue;
            Address from = hosts[s].listen;
            from.scope_id = r.link_index;  // the receiver's index for the link
            r.mesh->on_datagram(from, Bytes(buf.data(), t->size), now_);
          }
        }
        while (hosts[s].mesh->poll_event()) {
        }
      }
      if (moved) continue;
      TimeNs next = limit_ns;
      for (const Host& h : hosts)
        if (auto d = h.mesh->next_timeout()) next = std::min(next, *d);
      now_ = std::max(next, now_ + 1);
      for (Host& h : hosts) h.mesh->on_timeout(now_);
    }
    return done();
  }

 private:
  TimeNs now_ = 0;
};

const Member* find(const Mesh& m, NodeId id) {
  for (const Member& x : m.members())
    if (x.id == id) return &x;
  return nullptr;
}

TEST(LinkLocalScope, AddressesHeardFromAPeerTakeTheReceivingInterfacesScope) {
  Link link;
  const char* ips[] = {"[fe80::a]:7000", "[fe80::b]:7001", "[fe80::c]:7002"};
  const std::uint32_t index[] = {3, 5, 8};
  for (int i = 0; i < 3; ++i) {
    Identity self;
    self.id = 100 + i;
    self.name = std::string(1, static_cast<char>('a' + i));
    self.listen = scoped(ips[i], index[i]);
    auto mesh = std::make_unique<Mesh>(Config{}, self, 7 + i, 0);
    link.hosts.push_back(Host{std::move(mesh), self.listen, index[i], i < 2});
  }
  // a beacons to the link's group; only b hears beacons, so c can learn a only by gossip
  // from b (c joins through b as a seed).
  link.hosts[0].mesh->set_beacon_target(scoped("[ff02::4e41]:7400", index[0]));
  ASSERT_TRUE(link.hosts[2].mesh->add_seed(scoped(ips[1], index[2]), 0).ok());
  const Mesh& b = *link.hosts[1].mesh;
  const Mesh& c = *link.hosts[2].mesh;
  ASSERT_TRUE(link.run_until(
      [&] {
        const Member* a_at_c = find(c, 100);
        return find(b, 100) && a_at_c && a_at_c->connected;
      },
      10 * kNsPerSec))
      << "c never connected to a";
  EXPECT_EQ(find(b, 100)->address, scoped(ips[0], index[1])) << find(b, 100)->address.to_string();  // from a's beacon
  EXPECT_EQ(find(c, 100)->address, scoped(ips[0], index[2])) << find(c, 100)->address.to_string();  // from b's gossip
  EXPECT_EQ(find(c, 101)->address, scoped(ips[1], index[2]));
}

}  // namespace
}  // namespace hana::topology::test
