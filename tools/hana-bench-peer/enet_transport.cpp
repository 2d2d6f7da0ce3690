// enet: ENet 1.3 (Debian's libenet) with every message on a reliable channel:
// channel 0 for HIGH traffic, channel 1 for BULK. ENet's own timers (retransmission,
// keep-alive) only advance inside enet_host_service(), so poll() sleeps on the
// socket no longer than until the earliest retransmission deadline of any peer
// (ENet keeps it in whole milliseconds) and never longer than 100 ms.
#include <enet/enet.h>
#include <poll.h>

#include <cstring>

#include "transport.h"

namespace bench {
namespace {

constexpr std::int64_t kMaxWaitNs = 100'000'000;
constexpr std::int64_t kNsPerMs = 1'000'000;
constexpr int kEventsPerPoll = 4096;
constexpr std::size_t kChannels = 2;
constexpr std::size_t kMaxServerPeers = 128;

ENetAddress to_enet(const Endpoint& ep) {
  ENetAddress a{};
  a.host = ep.addr.sin_addr.s_addr;  // both network byte order
  a.port = ntohs(ep.addr.sin_port);  // ENet wants host order
  return a;
}

class EnetTransport final : public Transport {
 public:
  explicit EnetTransport(const TransportOptions& opts) : opts_(opts) { ok_ = enet_initialize() == 0; }
  ~EnetTransport() override {
    if (host_ != nullptr) {
      for (auto* p : peers_)
        if (p != nullptr) enet_peer_reset(p);
      enet_host_destroy(host_);
    }
    if (ok_) enet_deinitialize();
  }
  const char* name() const override { return "enet"; }

  std::string listen(const Endpoint& bind) override {
    if (!ok_) return "enet_initialize failed";
    ENetAddress a = to_enet(bind);
    host_ = enet_host_create(&a, kMaxServerPeers, kChannels, 0, 0);
    return host_ != nullptr ? "" : "enet_host_create failed (address in use?)";
  }

  std::string connect(const std::vector<Endpoint>& peers, const Endpoint* bind,
                      std::int64_t deadline_ns) override {
    if (!ok_) return "enet_initialize failed";
    ENetAddress local{};
    if (bind != nullptr) local = to_enet(*bind);
    host_ = enet_host_create(bind != nullptr ? &local : nullptr, peers.size(), kChannels, 0, 0);
    if (host_ == nullptr) return "enet_host_create failed";
    for (std::size_t i = 0; i < peers.size(); ++i) {
      ENetAddress a = to_enet(peers[i]);
      ENetPeer* p = enet_host_connect(host_, &a, kChannels, 0);
      if (p == nullptr) return "enet_host_connect failed";
      p->data = reinterpret_cast<void*>(static_cast<std::intptr_t>(i));
      peers_.push_back(p);
    }
    std::size_t connected = 0;
    while (connected < peers.size() && now_ns() < deadline_ns && !g_stop) {
      ENetEvent ev;
      int r = enet_host_service(host_, &ev, 5);
      if (r > 0 && ev.type == ENET_EVENT_TYPE_CONNECT) ++connected;
      if (r > 0 && ev.type == ENET_EVENT_TYPE_RECEIVE) enet_packet_destroy(ev.packet);
    }
    return connected == peers.size() ? "" : "enet: " + std::to_string(peers.size() - connected) + " peer(s) did not connect";
  }

  void send(int peer, Channel channel, const std::uint8_t* data, std::size_t len) override {
    ENetPeer* p = peers_[static_cast<std::size_t>(peer)];
    if (p == nullptr) return;
    ENetPacket* pkt = enet_packet_create(data, len, ENET_PACKET_FLAG_RELIABLE);
    if (pkt != nullptr && enet_peer_send(p, static_cast<enet_uint8>(channel), pkt) != 0) enet_packet_destroy(pkt);
  }

  void flush() override { enet_host_flush(host_); }

  // ENet queues without limit; the streams' own confirmation window bounds what is queued.
  bool can_send_bulk(int peer) const override { return peers_[static_cast<std::size_t>(peer)] != nullptr; }

  int poll(std::int64_t timeout_ns, const OnMessage& on_message) override {
    int delivered = service(on_message);
    if (delivered > 0 || timeout_ns <= 0) return delivered;
    pollfd p{host_->socket, POLLIN, 0};
    std::int64_t wait = std::min(timeout_ns, timer_wait_ns());
    timespec ts{static_cast<time_t>(wait / 1'000'000'000), static_cast<long>(wait % 1'000'000'000)};
    ppoll(&p, 1, &ts, nullptr);
    return service(on_message);
  }

 private:
  // How long ENet can be left alone: until the earliest peer's retransmission timeout,
  // 1 ms when commands still wait for window space, else kMaxWaitNs.
  std::int64_t timer_wait_ns() const {
    std::int64_t wait = kMaxWaitNs;
    const enet_uint32 now = enet_time_get();
    for (std::size_t i = 0; i < host_->peerCount; ++i) {
      const ENetPeer& p = host_->peers[i];
      if (p.state == ENET_PEER_STATE_DISCONNECTED) continue;
      if (p.state != ENET_PEER_STATE_CONNECTED) return kNsPerMs;  // handshakes run on ENet's timers too
      if (!enet_list_empty(&p.outgoingCommands)) wait = std::min(wait, kNsPerMs);
      if (!enet_list_empty(&p.sentReliableCommands)) {
        auto left_ms = static_cast<std::int32_t>(p.nextTimeout - now);
        wait = std::min(wait, std::max<std::int64_t>(left_ms, 0) * kNsPerMs + kNsPerMs);
      }
    }
    return wait;
  }

  int service(const OnMessage& on_message) {
    int delivered = 0;
    ENetEvent ev;
    for (int i = 0; i < kEventsPerPoll; ++i) {
      if (enet_host_service(host_, &ev, 0) <= 0) break;
      switch (ev.type) {
        case ENET_EVENT_TYPE_CONNECT:
          ev.peer->data = reinterpret_cast<void*>(static_cast<std::intptr_t>(peers_.size()));
          peers_.push_back(ev.peer);
          break;
        case ENET_EVENT_TYPE_DISCONNECT: {
          auto idx = static_cast<std::size_t>(reinterpret_cast<std::intptr_t>(ev.peer->data));
          if (idx < peers_.size()) peers_[idx] = nullptr;
          break;
        }
        case ENET_EVENT_TYPE_RECEIVE: {
          int idx = static_cast<int>(reinterpret_cast<std::intptr_t>(ev.peer->data));
          Channel ch = ev.channelID == 1 ? Channel::kBulk : Channel::kHigh;
          on_message({idx, ch, ev.packet->data, ev.packet->dataLength});
          enet_packet_destroy(ev.packet);
          ++delivered;
          break;
        }
        case ENET_EVENT_TYPE_NONE:
          break;
      }
    }
    return delivered;
  }

  TransportOptions opts_;
  bool ok_ = false;
  ENetHost* host_ = nullptr;
  std::vector<ENetPeer*> peers_;
};

}  // namespace

std::unique_ptr<Transport> make_enet_transport(const TransportOptions& opts) {
  return std::make_unique<EnetTransport>(opts);
}

}  // namespace bench
