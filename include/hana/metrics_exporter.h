// Prometheus /metrics endpoint for a Node (prometheus-cpp pull exposer). Each scrape takes
// one Node::stats() snapshot and renders node, per-peer and per-lane counters and gauges
// named by Prometheus conventions (hana_..._total for counters, base units: seconds, bytes).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "hana/display_state.h"
#include "hana/node.h"
#include "hana/result.h"

namespace hana {

class MetricsExporter {
 public:
  // Serves http://<bind>/metrics, e.g. bind "127.0.0.1:9464" ("127.0.0.1:0" = any free port).
  static Result<std::unique_ptr<MetricsExporter>> start(const Node& node, const std::string& bind);
  ~MetricsExporter();
  std::uint16_t port() const;

  // Adds the display state layer's families (hana_display_*: updates applied, stale,
  // malformed, deadlines missed, update age, per group/display version and age) to every
  // scrape, read from display.published() (thread-safe, at most
  // DisplayState::kPublishInterval old while events flow). `display` must outlive the
  // exporter. Adding a second one replaces the first.
  void add_display_state(const DisplayState& display);

  // Renders one snapshot in the Prometheus text format (what a scrape returns).
  static std::string render(const NodeStats& stats);
  static std::string render(const DisplayState::Published& display);

  struct Impl;

 private:
  explicit MetricsExporter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hana
