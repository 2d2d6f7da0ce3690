// Network namespaces for the root-only Node tests: shell helpers, a pair of namespaces
// joined by a veth, and starting a Node whose sockets live in a namespace. Names carry
// the process id (and an index) so parallel runs do not collide; destructors always
// delete what was created.
#pragma once

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/clock.h"
#include "hana/node.h"

namespace hana::test {

inline int sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

// Runs `fn` on a helper thread that first enters namespace `ns`: sockets and threads
// created inside (a Node's loop thread too) stay there. False if setns failed.
inline bool run_in_netns(const std::string& ns, const std::function<void()>& fn) {
  bool entered = false;
  std::thread t([&] {
    const int fd = ::open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    entered = ::setns(fd, CLONE_NEWNET) == 0;
    ::close(fd);
    if (entered) fn();
  });
  t.join();
  return entered;
}

// Creates and starts a node inside `ns`; a failure is a test failure naming its reason.
inline std::unique_ptr<Node> start_node_in(const std::string& ns, NodeOptions options, const Config& config = {}) {
  std::unique_ptr<Node> node;
  std::string failure = "setns failed";
  (void)run_in_netns(ns, [&] {
    auto n = Node::create(config, std::move(options));
    if (!n) {
      failure = n.error().message;
      return;
    }
    if (auto r = (*n)->start(); !r) {
      failure = r.error().message;
      return;
    }
    node = std::move(*n);
  });
  EXPECT_TRUE(node) << failure;
  return node;
}

// Drains every node's events round-robin (so no queue fills while another waits) until
// each has seen PeerConnected from all the others or the timeout passes; then checks it.
// Returns, per node, the address each peer connected from.
inline std::vector<std::map<NodeId, Address>> expect_full_mesh(const std::vector<std::unique_ptr<Node>>& nodes,
                                                                TimeNs timeout_ns) {
  const std::size_t n = nodes.size();
  std::vector<std::set<NodeId>> connected(n);
  std::vector<std::map<NodeId, Address>> addresses(n);
  auto all_done = [&] {
    for (const auto& c : connected)
      if (c.size() < n - 1) return false;
    return true;
  };
  const TimeNs deadline = engine::monotonic_now_ns() + timeout_ns;
  Event ev;
  for (long turn = 0; turn < 1'000'000 && !all_done() && engine::monotonic_now_ns() < deadline; ++turn) {
    for (std::size_t i = 0; i < n; ++i)
      if (nodes[i]->wait_event(ev, 5 * kNsPerMs) && ev.kind == EventKind::PeerConnected) {
        connected[i].insert(ev.peer);
        addresses[i][ev.peer] = ev.address;
      }
  }
  for (std::size_t i = 0; i < n; ++i) {
    std::set<NodeId> expected;
    for (std::size_t j = 0; j < n; ++j)
      if (j != i) expected.insert(nodes[j]->id());
    EXPECT_EQ(connected[i], expected) << "node " << i << " did not connect to every other node via beacons";
  }
  return addresses;
}

// Namespaces a and b joined by a veth pair (ends dev_a() in a, dev_b() in b), both ends
// and both loopbacks up, and no addresses: not even IPv6 link-local ones (addrgenmode
// none), so a test adds exactly the ones it names, IPv6 with `nodad` (usable at once).
class VethPair {
 public:
  VethPair(const std::string& tag, int index) {
    const std::string id = std::to_string(::getpid() % 100000) + tag + std::to_string(index);
    ns_a_ = "hana-" + id + "-a";
    ns_b_ = "hana-" + id + "-b";
    dev_a_ = "hv" + id + "a";
    dev_b_ = "hv" + id + "b";
    if (sh("ip netns add " + ns_a_) != 0) {
      error_ = "ip netns add failed (no CAP_SYS_ADMIN, or no iproute2)";
      return;
    }
    created_a_ = true;
    if (sh("ip netns add " + ns_b_) != 0) {
      error_ = "ip netns add failed (no CAP_SYS_ADMIN, or no iproute2)";
      return;
    }
    created_b_ = true;
    bool ok = sh("ip link add " + dev_a_ + " netns " + ns_a_ + " type veth peer name " + dev_b_ + " netns " + ns_b_) == 0;
    for (const auto& [ns, dev] : {std::pair{ns_a_, dev_a_}, std::pair{ns_b_, dev_b_}})
      ok = ok && sh("ip -n " + ns + " link set " + dev + " addrgenmode none") == 0 &&
           sh("ip -n " + ns + " link set " + dev + " up") == 0 && sh("ip -n " + ns + " link set lo up") == 0;
    if (!ok) error_ = "veth setup failed";
  }
  ~VethPair() {
    if (created_a_) sh("ip netns del " + ns_a_);  // deleting a namespace deletes its veth end (and the pair)
    if (created_b_) sh("ip netns del " + ns_b_);
  }
  VethPair(const VethPair&) = delete;
  VethPair& operator=(const VethPair&) = delete;

  // Runs `ip -n <ns> <args>`; on failure records `what` as the error. Returns success.
  bool ip(const std::string& ns, const std::string& args, const char* what) {
    if (!error_.empty()) return false;
    if (sh("ip -n " + ns + " " + args) != 0) error_ = what;
    return error_.empty();
  }
  void set_error(std::string e) { error_ = std::move(e); }
  const std::string& error() const { return error_; }
  const std::string& a() const { return ns_a_; }
  const std::string& b() const { return ns_b_; }
  const std::string& dev_a() const { return dev_a_; }
  const std::string& dev_b() const { return dev_b_; }

 private:
  std::string ns_a_, ns_b_, dev_a_, dev_b_, error_;
  bool created_a_ = false, created_b_ = false;
};

}  // namespace hana::test
