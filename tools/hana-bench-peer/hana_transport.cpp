// hana: hana::Node (the public API) behind the same Transport interface as the
// baselines, so priority/stream/fanout run hana through exactly the scenario code
// the baselines run. HIGH traffic goes on Lane::High, bulk on Lane::Bulk, both
// reliable-ordered. Confirmations are the scenario's own acks, as for the baselines.
//
// Events are polled with wait_event()/poll_event() (hana's documented model).
// QueueFull is back-pressure: the message waits in a small local overflow list and
// can_send_bulk() says no until it has gone out.
#include <arpa/inet.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <array>
#include <deque>
#include <unordered_map>

#include "hana/node.h"
#include "transport.h"

namespace bench {
namespace {

constexpr int kEventsPerPoll = 4096;

hana::Address to_hana(const Endpoint& ep) {
  hana::Address a;
  a.family = 4;
  a.port = ntohs(ep.addr.sin_port);
  std::memcpy(a.ip.data(), &ep.addr.sin_addr.s_addr, 4);
  return a;
}

class HanaTransport final : public Transport {
 public:
  HanaTransport(const TransportOptions& opts, hana::IoBackend backend, bool busy_poll)
      : opts_(opts), backend_(backend), busy_poll_(busy_poll) {}
  ~HanaTransport() override {
    if (node_ && std::getenv("HANA_BENCH_STATS") != nullptr) dump_stats();
    if (node_) node_->stop();
  }
  const char* name() const override { return name_.c_str(); }

  std::string listen(const Endpoint& bind) override { return start(to_hana(bind)); }

  std::string connect(const std::vector<Endpoint>& peers, const Endpoint* bind,
                      std::int64_t deadline_ns) override {
    if (auto err = start(bind != nullptr ? to_hana(*bind) : hana::Address::ipv4(0, 0, 0, 0, 0)); !err.empty())
      return err;
    ids_.assign(peers.size(), 0);
    for (const auto& p : peers)
      if (auto r = node_->connect(to_hana(p)); !r) return std::string("connect: ") + r.error().message;
    std::size_t connected = 0;
    hana::Event ev;
    while (connected < peers.size() && now_ns() < deadline_ns && !g_stop) {
      if (!node_->wait_event(ev, 10'000'000) || ev.kind != hana::EventKind::PeerConnected) continue;
      for (std::size_t i = 0; i < peers.size(); ++i) {
        if (ids_[i] == 0 && to_hana(peers[i]) == ev.address) {
          ids_[i] = ev.peer;
          index_[ev.peer] = static_cast<int>(i);
          ++connected;
          break;
        }
      }
    }
    if (connected < peers.size())
      return "hana: " + std::to_string(peers.size() - connected) + " peer(s) did not connect";
    return "";
  }

  // A refused message (QueueFull: back-pressure) waits in its channel's own overflow
  // queue: a hana user's HIGH message is sent on its lane, never queued behind Bulk.
  void send(int peer, Channel channel, const std::uint8_t* data, std::size_t len) override {
    auto& overflow = overflow_[channel == Channel::kBulk ? 1 : 0];
    if (!overflow.empty() || !try_send(peer, channel, data, len)) {
      overflow.push_back({peer, channel, std::vector<std::uint8_t>(data, data + len)});
      ++overflowed_;
    }
  }

  // Node::broadcast to every member (the leaves of the star are all of them): one
  // payload, one loop turn. Refused as a whole (the node's queue is full): each peer's
  // copy takes the send() path and its back-pressure.
  void send_to_all(std::size_t peers, Channel channel, const std::uint8_t* data, std::size_t len) override {
    const bool pending = !overflow_[channel == Channel::kBulk ? 1 : 0].empty();
    if (!pending && peers == ids_.size() && node_->broadcast({data, len}, options_for(channel))) return;
    Transport::send_to_all(peers, channel, data, len);
  }

  // Bulk sends are queued with SendOptions::more (the transport contract: send() queues,
  // flush() transmits, as the TCP transport's one write per flush): a stream's burst costs
  // one loop turn, not one per message. HIGH messages leave at once.
  void flush() override {
    for (auto& overflow : overflow_) {  // HIGH first
      while (!overflow.empty()) {
        auto& o = overflow.front();
        if (!try_send(o.peer, o.channel, o.bytes.data(), o.bytes.size())) break;
        overflow.pop_front();
      }
    }
    node_->flush();
  }

  bool can_send_bulk(int) const override { return overflow_[1].empty(); }

  int poll(std::int64_t timeout_ns, const OnMessage& on_message) override {
    flush();
    int delivered = 0;
    hana::Event ev;
    bool got = wait(ev, timeout_ns);
    for (int i = 0; got && i < kEventsPerPoll; ++i) {
      delivered += handle(ev, on_message);
      got = node_->poll_event(ev);
    }
    if (got) delivered += handle(ev, on_message);
    flush();
    return delivered;
  }

 private:
  struct Pending {
    int peer;
    Channel channel;
    std::vector<std::uint8_t> bytes;
  };

  std::string start(const hana::Address& bind) {
    hana::Config cfg;
    if (busy_poll_) {
      if (auto r = cfg.set("busy_poll", "true"); !r) return std::string("busy_poll: ") + r.error().message;
    }
    if (std::string error = hana::apply_knob_assignments(cfg, opts_.hana_knobs); !error.empty()) return error;
    hana::NodeOptions nopts;
    nopts.bind = bind;
    nopts.backend = backend_;
    if (opts_.hana_inline) nopts.threading = hana::Threading::Inline;
    auto node = hana::Node::create(cfg, nopts);
    if (!node) return std::string("Node::create: ") + node.error().message;
    node_ = std::move(node.value());
    if (auto r = node_->start(); !r) return std::string("Node::start: ") + r.error().message;
    name_ = std::string("hana-") + std::string(hana::to_string(node_->backend())) + (busy_poll_ ? "-busypoll" : "");
    return "";
  }

  // The application thread always blocks in wait_event(), also with --busy-poll: there
  // only the engine loop spins (the busy_poll knob). A second spinning thread per node
  // would time-slice with the loop at scheduler granularity (ms) on a small machine.
  bool wait(hana::Event& ev, std::int64_t timeout_ns) {
    if (timeout_ns <= 0) return node_->poll_event(ev);
    return node_->wait_event(ev, static_cast<hana::TimeNs>(timeout_ns));
  }

  // Bulk bursts are queued (`more`) until flush(); every scenario confirms with its own
  // acks, as for the baselines, so no Delivered event per message (or per fan-out peer).
  static hana::SendOptions options_for(Channel channel) {
    hana::SendOptions so;
    so.lane = channel == Channel::kBulk ? hana::Lane::Bulk : hana::Lane::High;
    so.delivery = hana::Delivery::ReliableOrdered;
    so.more = channel == Channel::kBulk;
    so.delivered_event = false;
    return so;
  }

  bool try_send(int peer, Channel channel, const std::uint8_t* data, std::size_t len) {
    auto idx = static_cast<std::size_t>(peer);
    if (idx >= ids_.size() || ids_[idx] == 0) return true;  // unknown peer: nothing to do
    auto r = node_->send(ids_[idx], {data, len}, options_for(channel));
    if (r) return true;
    if (r.error().code == hana::Errc::QueueFull) return false;
    ++send_errors_;  // Closed / NotConnected: the message is lost, as the scenario will count
    return true;
  }

  // HANA_BENCH_STATS=1: engine counters and every peer's connection counters on stderr
  // at exit, to tell a stuck peer from a slow one.
  void dump_stats() const {
    auto st = node_->stats();
    std::fprintf(stderr, "stats %s: peers=%zu send_errors=%llu overflow=%zu", name_.c_str(), st.peers.size(),
                 static_cast<unsigned long long>(send_errors_), overflowed_);
    for (const auto& [n, v] : st.engine)
      if (v != 0) std::fprintf(stderr, " %.*s=%llu", static_cast<int>(n.size()), n.data(), static_cast<unsigned long long>(v));
    std::fprintf(stderr, "\n");
    for (const auto& p : st.peers) {
      const auto& c = p.connection;
      std::fprintf(stderr,
                   "  peer %u conn=%d state=%d sent=%llu recv=%llu lost=%llu rtx=%llu pto=%llu inflight=%llu cwnd=%llu srtt_us=%llu\n",
                   static_cast<unsigned>(p.address.port), p.connected ? 1 : 0, static_cast<int>(p.state),
                   static_cast<unsigned long long>(c.packets_sent), static_cast<unsigned long long>(c.packets_received),
                   static_cast<unsigned long long>(c.packets_lost), static_cast<unsigned long long>(c.retransmits),
                   static_cast<unsigned long long>(c.pto_count), static_cast<unsigned long long>(c.bytes_in_flight),
                   static_cast<unsigned long long>(c.cwnd_bytes), static_cast<unsigned long long>(c.rtt_smoothed_us));
    }
  }

  int index_of(hana::NodeId id) {
    auto it = index_.find(id);
    if (it != index_.end()) return it->second;
    int idx = static_cast<int>(ids_.size());  // server side: peers get indices as they appear
    ids_.push_back(id);
    index_[id] = idx;
    return idx;
  }

  int handle(const hana::Event& ev, const OnMessage& on_message) {
    if (ev.kind == hana::EventKind::PeerConnected) {
      index_of(ev.peer);
      return 0;
    }
    if (ev.kind != hana::EventKind::Received) return 0;
    auto bytes = ev.payload.bytes();
    Channel ch = ev.lane == hana::Lane::Bulk ? Channel::kBulk : Channel::kHigh;
    on_message({index_of(ev.peer), ch, bytes.data(), bytes.size()});
    return 1;
  }

  TransportOptions opts_;
  hana::IoBackend backend_;
  bool busy_poll_;
  std::string name_ = "hana";
  std::unique_ptr<hana::Node> node_;
  std::vector<hana::NodeId> ids_;
  std::unordered_map<hana::NodeId, int> index_;
  std::array<std::deque<Pending>, 2> overflow_;  // [0] HIGH, [1] BULK
  std::size_t overflowed_ = 0;                   // messages that had to wait (HANA_BENCH_STATS)
  std::uint64_t send_errors_ = 0;
};

}  // namespace

std::unique_ptr<Transport> make_hana_transport(const TransportOptions& opts, const std::string& backend,
                                               bool busy_poll) {
  auto b = backend == "epoll" ? hana::IoBackend::Epoll : backend == "uring" ? hana::IoBackend::Uring
                                                                             : hana::IoBackend::Auto;
  return std::make_unique<HanaTransport>(opts, b, busy_poll);
}

}  // namespace bench
