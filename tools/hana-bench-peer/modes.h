// The four things hana-bench-peer can do; each returns the process exit code and
// prints one JSON line on stdout (echo prints one when it is listening).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "transport.h"

namespace bench {

struct EchoOptions {
  Endpoint bind;
  double max_seconds = 1800;  // a forgotten server still exits
};

struct PingOptions {
  Endpoint to;
  const Endpoint* bind = nullptr;
  std::uint64_t count = 1000;
  double rate = 1000;
  std::size_t size_bytes = 64;
  Channel channel = Channel::kHigh;
  double linger_ms = 2000;           // wait for late echoes after the last send
  std::string samples_path;          // optional: every RTT in µs, for CDF plots
  std::size_t bulk_size_bytes = 0;   // >0: saturate the same peer with BULK messages meanwhile
  std::size_t bulk_window_bytes = 2 << 20;
  double bulk_warmup_ms = 200;       // the bulk stream runs this long before the first ping
};

struct StreamOptions {
  Endpoint to;
  const Endpoint* bind = nullptr;
  std::size_t size_bytes = 1 << 20;
  double duration_s = 10;
  std::size_t window_bytes = 8 << 20;
  std::size_t window_msgs = 4096;   // cap for small messages
  double linger_ms = 2000;
};

struct FanoutOptions {
  std::vector<Endpoint> to;
  std::uint64_t count = 1000;
  double rate = 200;
  std::size_t size_bytes = 1024;
  double linger_ms = 2000;
  std::string samples_path;
};

int run_echo(Transport& t, const EchoOptions& o);
int run_ping(Transport& t, const PingOptions& o);
int run_stream(Transport& t, const StreamOptions& o);
int run_fanout(Transport& t, const FanoutOptions& o);

inline constexpr std::int64_t kConnectTimeoutNs = 5'000'000'000;

}  // namespace bench
