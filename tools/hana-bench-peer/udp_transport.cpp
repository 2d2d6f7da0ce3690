// udp-raw: the floor. No reliability, no ordering repair, no congestion control:
// what the wire and the kernel cost. Messages larger than one datagram are cut
// into --mtu sized fragments; a message with a missing fragment is simply lost.
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <unordered_map>

#include "transport.h"
#include "wire.h"

namespace bench {
namespace {

constexpr std::size_t kMaxDatagram = 2048;
constexpr std::size_t kPrefixBytes = 8;   // u32 message length | channel bit, u32 fragment offset
constexpr unsigned kBatch = 64;
constexpr int kRecvBatchesPerPoll = 16;   // bounds one poll() call to 1024 datagrams
constexpr int kSocketBufferBytes = 4 << 20;

struct OutDatagram {
  int peer;
  std::uint16_t len;
  std::array<std::uint8_t, kMaxDatagram> bytes;
};

struct Reassembly {
  std::vector<std::uint8_t> buf;
  std::uint32_t len = 0;
  std::uint32_t got = 0;
  bool active = false;
};

std::uint64_t key_of(const sockaddr_in& a) {
  return (std::uint64_t{a.sin_addr.s_addr} << 16) | a.sin_port;
}

class UdpTransport final : public Transport {
 public:
  explicit UdpTransport(const TransportOptions& opts) : opts_(opts) {
    if (opts_.mtu_bytes > kMaxDatagram) opts_.mtu_bytes = kMaxDatagram;
    if (opts_.mtu_bytes < kPrefixBytes + kAckBytes) opts_.mtu_bytes = kPrefixBytes + kAckBytes;
    for (unsigned i = 0; i < kBatch; ++i) {
      in_iov_[i] = {in_bufs_[i].data(), kMaxDatagram};
      in_msgs_[i].msg_hdr.msg_iov = &in_iov_[i];
      in_msgs_[i].msg_hdr.msg_iovlen = 1;
      in_msgs_[i].msg_hdr.msg_name = &in_addrs_[i];
    }
  }
  ~UdpTransport() override {
    if (fd_ >= 0) close(fd_);
  }
  const char* name() const override { return "udp-raw"; }

  std::string listen(const Endpoint& bind) override {
    if (auto err = open_socket(); !err.empty()) return err;
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&bind.addr), sizeof bind.addr) != 0)
      return std::string("bind: ") + std::strerror(errno);
    server_ = true;
    return "";
  }

  std::string connect(const std::vector<Endpoint>& peers, const Endpoint* bind,
                      std::int64_t deadline_ns) override {
    if (auto err = open_socket(); !err.empty()) return err;
    if (bind != nullptr &&
        ::bind(fd_, reinterpret_cast<const sockaddr*>(&bind->addr), sizeof bind->addr) != 0)
      return std::string("bind: ") + std::strerror(errno);
    for (const auto& p : peers) add_peer(p.addr);
    // Say hello until every server answered, so no measured message races its start-up.
    std::vector<bool> answered(peers.size(), false);
    std::size_t missing = peers.size();
    std::uint8_t hello[kHeaderBytes];
    write_header(hello, Kind::kHello, 0);
    while (missing > 0 && now_ns() < deadline_ns && !g_stop) {
      for (std::size_t i = 0; i < peers.size(); ++i)
        if (!answered[i]) send(static_cast<int>(i), Channel::kHigh, hello, sizeof hello);
      flush();
      std::int64_t until = now_ns() + 20'000'000;
      while (missing > 0 && now_ns() < until) {
        poll(until - now_ns(), [&](const Incoming& in) {
          Header h{};
          if (read_header(in.data, in.len, &h) && h.kind == Kind::kHello && !answered[in.peer]) {
            answered[in.peer] = true;
            --missing;
          }
        });
      }
    }
    return missing == 0 ? "" : "udp-raw: no answer to hello from " + std::to_string(missing) + " peer(s)";
  }

  void send(int peer, Channel channel, const std::uint8_t* data, std::size_t len) override {
    const std::size_t chunk = opts_.mtu_bytes - kPrefixBytes;
    std::size_t off = 0;
    do {
      std::size_t n = std::min(chunk, len - off);
      if (out_count_ == out_.size()) out_.emplace_back();
      OutDatagram& d = out_[out_count_++];
      d.peer = peer;
      std::uint32_t len_word = static_cast<std::uint32_t>(len) | (channel == Channel::kBulk ? 0x80000000u : 0);
      std::uint32_t off_word = static_cast<std::uint32_t>(off);
      std::memcpy(d.bytes.data(), &len_word, 4);
      std::memcpy(d.bytes.data() + 4, &off_word, 4);
      std::memcpy(d.bytes.data() + kPrefixBytes, data + off, n);
      d.len = static_cast<std::uint16_t>(n + kPrefixBytes);
      off += n;
    } while (off < len);
  }

  void flush() override {
    std::size_t done = 0;
    int stalls = 0;
    while (done < out_count_) {
      unsigned n = static_cast<unsigned>(std::min<std::size_t>(kBatch, out_count_ - done));
      for (unsigned i = 0; i < n; ++i) {
        OutDatagram& d = out_[done + i];
        out_iov_[i] = {d.bytes.data(), d.len};
        out_msgs_[i].msg_hdr = {};
        out_msgs_[i].msg_hdr.msg_iov = &out_iov_[i];
        out_msgs_[i].msg_hdr.msg_iovlen = 1;
        out_msgs_[i].msg_hdr.msg_name = &peers_[static_cast<std::size_t>(d.peer)];
        out_msgs_[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
      }
      int sent = sendmmsg(fd_, out_msgs_.data(), n, 0);
      if (sent > 0) {
        done += static_cast<std::size_t>(sent);
        stalls = 0;
        continue;
      }
      if (sent < 0 && (errno == EAGAIN || errno == ENOBUFS) && stalls < 3) {
        pollfd p{fd_, POLLOUT, 0};
        ::poll(&p, 1, 5);  // the socket buffer is full: wait briefly, a bounded number of times
        ++stalls;
        continue;
      }
      break;  // give up on the rest: udp-raw has no retransmission, they count as lost
    }
    out_count_ = 0;
  }

  bool can_send_bulk(int) const override { return true; }

  int poll(std::int64_t timeout_ns, const OnMessage& on_message) override {
    int delivered = drain(on_message);
    if (delivered > 0 || timeout_ns <= 0) return delivered;
    pollfd p{fd_, POLLIN, 0};
    timespec ts{static_cast<time_t>(timeout_ns / 1'000'000'000), static_cast<long>(timeout_ns % 1'000'000'000)};
    if (ppoll(&p, 1, &ts, nullptr) > 0) delivered = drain(on_message);
    return delivered;
  }

 private:
  std::string open_socket() {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return std::string("socket: ") + std::strerror(errno);
    int sz = kSocketBufferBytes;
    // FORCE variants need CAP_NET_ADMIN; the plain ones are capped by rmem_max/wmem_max.
    if (setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz) != 0)
      setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    if (setsockopt(fd_, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz) != 0)
      setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    return "";
  }

  int add_peer(const sockaddr_in& a) {
    int idx = static_cast<int>(peers_.size());
    peers_.push_back(a);
    index_.emplace(key_of(a), idx);
    reasm_.emplace_back();
    return idx;
  }

  int drain(const OnMessage& on_message) {
    int delivered = 0;
    for (int round = 0; round < kRecvBatchesPerPoll; ++round) {
      for (unsigned i = 0; i < kBatch; ++i) in_msgs_[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
      int got = recvmmsg(fd_, in_msgs_.data(), kBatch, MSG_DONTWAIT, nullptr);
      if (got <= 0) break;
      for (int i = 0; i < got; ++i) delivered += on_datagram(i, in_msgs_[i].msg_len, on_message);
      if (static_cast<unsigned>(got) < kBatch) break;
    }
    return delivered;
  }

  int on_datagram(int slot, std::size_t len, const OnMessage& on_message) {
    if (len < kPrefixBytes) return 0;
    auto it = index_.find(key_of(in_addrs_[slot]));
    int peer;
    if (it != index_.end()) {
      peer = it->second;
    } else if (server_) {
      peer = add_peer(in_addrs_[slot]);
    } else {
      return 0;  // a stranger talking to a client: ignore
    }
    const std::uint8_t* d = in_bufs_[slot].data();
    std::uint32_t len_word, off;
    std::memcpy(&len_word, d, 4);
    std::memcpy(&off, d + 4, 4);
    Channel ch = (len_word & 0x80000000u) ? Channel::kBulk : Channel::kHigh;
    std::uint32_t msg_len = len_word & 0x7fffffffu;
    std::size_t n = len - kPrefixBytes;
    if (off == 0 && n == msg_len) {
      on_message({peer, ch, d + kPrefixBytes, n});
      return 1;
    }
    Reassembly& r = reasm_[static_cast<std::size_t>(peer)];
    if (off == 0) {
      r.buf.resize(msg_len);
      r.len = msg_len;
      r.got = 0;
      r.active = true;
    }
    // Loopback and a veth keep order, so a gap means loss: drop the partial message.
    if (!r.active || r.len != msg_len || off != r.got || off + n > r.len) {
      r.active = false;
      return 0;
    }
    std::memcpy(r.buf.data() + off, d + kPrefixBytes, n);
    r.got += static_cast<std::uint32_t>(n);
    if (r.got < r.len) return 0;
    r.active = false;
    on_message({peer, ch, r.buf.data(), r.len});
    return 1;
  }

  TransportOptions opts_;
  int fd_ = -1;
  bool server_ = false;
  std::vector<sockaddr_in> peers_;
  std::unordered_map<std::uint64_t, int> index_;
  std::vector<Reassembly> reasm_;
  std::vector<OutDatagram> out_;
  std::size_t out_count_ = 0;
  std::array<mmsghdr, kBatch> out_msgs_{};
  std::array<iovec, kBatch> out_iov_{};
  std::array<mmsghdr, kBatch> in_msgs_{};
  std::array<iovec, kBatch> in_iov_{};
  std::array<sockaddr_in, kBatch> in_addrs_{};
  std::array<std::array<std::uint8_t, kMaxDatagram>, kBatch> in_bufs_{};
};

}  // namespace

std::unique_ptr<Transport> make_udp_transport(const TransportOptions& opts) {
  return std::make_unique<UdpTransport>(opts);
}

}  // namespace bench
