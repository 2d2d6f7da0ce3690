// The server side of every scenario: echoes pings, answers fan-out messages with
// a header-only ack, and confirms stream data cumulatively once per receive batch.
#include <cstdio>
#include <cstring>

#include "modes.h"
#include "wire.h"

namespace bench {
namespace {

struct StreamState {
  std::uint64_t highest_seq = 0;
  std::uint64_t msgs = 0;
  std::uint64_t bytes = 0;
  bool dirty = false;
};

}  // namespace

int run_echo(Transport& t, const EchoOptions& o) {
  if (auto err = t.listen(o.bind); !err.empty()) {
    std::fprintf(stderr, "hana-bench-peer echo: %s\n", err.c_str());
    return 1;
  }
  std::printf("{\"listening\":\"%s\",\"backend\":\"%s\"}\n", o.bind.text.c_str(), t.name());
  std::fflush(stdout);

  std::vector<StreamState> streams;
  std::uint8_t reply[kAckBytes];
  bool pending = false;
  auto on_message = [&](const Incoming& in) {
    Header h{};
    if (!read_header(in.data, in.len, &h)) return;
    switch (h.kind) {
      case Kind::kPing:
      case Kind::kHello:
        t.send(in.peer, in.channel, in.data, in.len);
        pending = true;
        break;
      case Kind::kFanout:
        write_header(reply, Kind::kFanoutAck, h.seq);
        t.send(in.peer, in.channel, reply, kHeaderBytes);
        pending = true;
        break;
      case Kind::kBulk: {
        if (static_cast<std::size_t>(in.peer) >= streams.size()) streams.resize(static_cast<std::size_t>(in.peer) + 1);
        StreamState& s = streams[static_cast<std::size_t>(in.peer)];
        if (h.seq > s.highest_seq) s.highest_seq = h.seq;
        ++s.msgs;
        s.bytes += in.len;
        s.dirty = true;
        break;
      }
      default:
        break;  // unknown kinds are ignored
    }
  };

  const std::int64_t end_ns = now_ns() + static_cast<std::int64_t>(o.max_seconds * 1e9);
  while (!g_stop && now_ns() < end_ns) {
    t.poll(100'000'000, on_message);
    for (std::size_t i = 0; i < streams.size(); ++i) {
      StreamState& s = streams[i];
      if (!s.dirty) continue;
      write_header(reply, Kind::kAck, s.highest_seq);
      AckBody body{s.msgs, s.bytes};
      std::memcpy(reply + kHeaderBytes, &body, sizeof body);
      t.send(static_cast<int>(i), Channel::kBulk, reply, kAckBytes);
      s.dirty = false;
      pending = true;
    }
    if (pending) {
      t.flush();
      pending = false;
    }
  }
  return 0;
}

}  // namespace bench
