// A minimal hana display node, using only the public headers (include/hana/).
//   display_node NAME [SEED_ADDR:PORT]
// Every node announces one display, applies the display-group updates it receives (only
// versions newer than the one it holds) and, while it is the coordinator, moves group
// "lobby". When the coordinator dies the next one carries on: DisplayState numbers its
// updates above everything it has applied, so they are never taken for stale.
#include <hana/display_state.h>
#include <hana/node.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <string>

namespace {
volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s NAME [SEED_ADDR:PORT]\n", argv[0]);
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line at a time, also into a pipe or a log file
  hana::NodeOptions options;
  options.bind = hana::Address::ipv4(127, 0, 0, 1, 0);
  options.name = argv[1];
  options.displays = {{std::string(argv[1]) + "-screen", true, "1920x1080@60"}};
  if (argc > 2) {
    auto seed = hana::Address::parse(argv[2]);
    if (!seed) return std::fprintf(stderr, "bad seed address %s\n", argv[2]), 2;
    options.seeds.push_back(*seed);
  }
  hana::Config config;  // every knob at its documented default (docs/knobs.md)
  auto created = hana::Node::create(config, options);
  if (!created) return std::fprintf(stderr, "create: %s\n", created.error().message), 1;
  hana::Node& node = **created;
  if (auto started = node.start(); !started) return std::fprintf(stderr, "start: %s\n", started.error().message), 1;
  std::printf("%s listening on %s\n", argv[1], node.local_address().to_string().c_str());

  hana::DisplayState displays(node);
  displays.on_group_update([](const hana::DisplayGroupUpdate& u, hana::NodeId from) {
    std::printf("group %s v%u by %016llx at (%.2f, %.2f, %.2f) from %016llx\n", u.group_id.c_str(), u.version,
                static_cast<unsigned long long>(u.author), u.position.x, u.position.y, u.position.z,
                static_cast<unsigned long long>(from));
  });

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  bool coordinator = false;  // this node holds the role (from RoleChanged events)
  const auto start = std::chrono::steady_clock::now();
  auto next_move = start;
  hana::Event event;
  while (!g_stop) {
    if (node.wait_event(event, 10 * hana::kNsPerMs) && !displays.handle(event)) {
      if (event.kind == hana::EventKind::RoleChanged) {
        std::printf("role change: node %016llx is %s (term %llu)\n", static_cast<unsigned long long>(event.peer),
                    std::string(hana::to_string(event.role)).c_str(), static_cast<unsigned long long>(event.term));
        if (event.role == hana::Role::Coordinator) {
          const bool was = coordinator;
          coordinator = event.peer == node.id();
          if (coordinator && !was) next_move = std::chrono::steady_clock::now();  // start now, no catch-up burst
        }
      }
      if (event.kind == hana::EventKind::DisplayAvailable || event.kind == hana::EventKind::DisplayUnavailable)
        std::printf("display %s (%s) of node %016llx is %s\n", event.display.id.c_str(), event.display.metadata.c_str(),
                    static_cast<unsigned long long>(event.peer), event.display.available ? "available" : "unavailable");
    }
    if (coordinator && std::chrono::steady_clock::now() >= next_move) {
      const float t = std::chrono::duration<float>(std::chrono::steady_clock::now() - start).count();
      hana::DisplayGroupUpdate u;
      u.group_id = "lobby";
      u.version = 0;  // DisplayState takes the next one: above every version of "lobby" seen here
      u.position = {std::cos(t), std::sin(t), 0.0f};
      u.timestamp_us = displays.mesh_time_us();
      if (auto sent = displays.propagate_group_update(u); !sent)
        std::fprintf(stderr, "propagate: %s\n", sent.error().message);  // e.g. QueueFull: back-pressure
      next_move += std::chrono::milliseconds(500);
    }
  }
  const auto s = displays.stats();
  std::printf("applied %llu updates, dropped %llu stale\n", static_cast<unsigned long long>(s.applied),
              static_cast<unsigned long long>(s.stale_dropped));
  node.stop();  // flushes pending reliable messages (stop_flush_ms), then leaves the mesh
  return 0;
}
