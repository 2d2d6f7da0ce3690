#include "hana/metrics_exporter.h"

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/text_serializer.h>

#include <cstdio>
#include <string_view>

#include "engine/counters.h"  // each engine counter's doc: the HELP text of its family
#include "hana/version.h"

namespace hana {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

std::string id_hex(NodeId id) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(id));
  return buf;
}

std::string peer_label(const PeerStats& p) { return p.name.empty() ? id_hex(p.peer) : p.name; }

class FamilyBuilder {
 public:
  explicit FamilyBuilder(std::vector<MetricFamily>& out) : out_(out) {}
  MetricFamily& family(const std::string& name, const std::string& help, MetricType type) {
    for (auto& f : out_)
      if (f.name == name) return f;
    out_.push_back({name, help, type, {}});
    return out_.back();
  }
  void add(const std::string& name, const std::string& help, MetricType type, double value,
           std::vector<ClientMetric::Label> labels = {}) {
    ClientMetric m;
    m.label = std::move(labels);
    if (type == MetricType::Counter) m.counter.value = value;
    else m.gauge.value = value;
    family(name, help, type).metric.push_back(std::move(m));
  }

 private:
  std::vector<MetricFamily>& out_;
};

constexpr auto kCounter = MetricType::Counter;
constexpr auto kGauge = MetricType::Gauge;

double us_to_s(std::uint64_t us) { return static_cast<double>(us) / 1e6; }

std::string engine_counter_doc(std::string_view name) {
  constexpr std::pair<std::string_view, std::string_view> kDocs[] = {
#define HANA_X(name, doc) {#name, doc},
      HANA_ENGINE_COUNTERS(HANA_X)
#undef HANA_X
  };
  for (const auto& [n, doc] : kDocs)
    if (n == name) return std::string(doc);
  return "Engine counter " + std::string(name);
}

// Engine counters are counters, except the maxima (`*_max_ns`): those are gauges, and in
// seconds like every Prometheus duration (hana_engine_loop_cycle_max_seconds).
void add_engine_counter(FamilyBuilder& b, std::string_view name, std::uint64_t value) {
  constexpr std::string_view kMaxNs = "_max_ns";
  const std::string help = engine_counter_doc(name);
  if (name.size() > kMaxNs.size() && name.substr(name.size() - kMaxNs.size()) == kMaxNs) {
    const std::string base(name.substr(0, name.size() - 3));  // drop "_ns"
    b.add("hana_engine_" + base + "_seconds", help + " (since start)", kGauge, static_cast<double>(value) / 1e9);
  } else {
    b.add("hana_engine_" + std::string(name) + "_total", help, kCounter, static_cast<double>(value));
  }
}

// One row of a stats table (hana/stats.def) as a sample of family `prefix + prom`: a
// counter gets _total; a field in microseconds is rendered in seconds (prom ends _seconds).
template <class T>
void add_stat(FamilyBuilder& b, const std::string& prefix, StatKind kind, std::string_view field, const char* prom,
              const char* help, T value, const std::vector<ClientMetric::Label>& labels) {
  double v = static_cast<double>(value);
  if (field.size() > 3 && field.substr(field.size() - 3) == "_us") v /= 1e6;
  if (kind == StatKind::Counter) b.add(prefix + prom + "_total", help, kCounter, v, labels);
  else b.add(prefix + prom, help, kGauge, v, labels);
}

void add_lane(FamilyBuilder& b, const LaneStats& l, const std::vector<ClientMetric::Label>& labels) {
#define HANA_LANE_STAT(kind, name, prom, doc) \
  add_stat(b, "hana_lane_", StatKind::kind, #name, #prom, doc, l.name, labels);
#include "hana/stats.def"
}

void add_connection(FamilyBuilder& b, const ConnectionStats& c, const std::vector<ClientMetric::Label>& labels) {
#define HANA_CONNECTION_STAT(kind, type, name, prom, doc) \
  add_stat(b, "hana_peer_", StatKind::kind, #name, #prom, doc, c.name, labels);
#include "hana/stats.def"
}

void add_mesh(FamilyBuilder& b, const MeshStats& m) {
#define HANA_MESH_STAT(name, doc) add_stat(b, "hana_mesh_", StatKind::Counter, #name, #name, doc, m.name, {});
#include "hana/stats.def"
  for (std::size_t e = 0; e < kDecodeErrorCount; ++e) {
    std::string error(to_string(static_cast<DecodeError>(e)));
    for (char& ch : error)
      if (ch == '-') ch = '_';
    b.add("hana_mesh_bad_datagrams_by_error_total",
          "Datagrams the codec rejected before acting on any of them, by the reason (a junk flood, a version "
          "mismatch and a sealed datagram reaching an unkeyed node look different here)",
          kCounter, static_cast<double>(m.bad_datagrams_by_error[e]), {{"error", error}});
  }
}

std::vector<MetricFamily> families(const NodeStats& s) {
  std::vector<MetricFamily> out;
  FamilyBuilder b(out);
  b.add("hana_node_info", "Constant 1, labelled with the node's id, name, hana-net version and I/O backend", kGauge,
        1,
        {{"id", id_hex(s.self)}, {"name", s.name}, {"version", std::string(kVersion)}, {"backend", s.backend}});
  b.add("hana_coordinator_term", "Term of the coordinator this node follows", kGauge, static_cast<double>(s.term));
  b.add("hana_mesh_time_synced", "1 if mesh time follows the coordinator's timebase", kGauge, s.mesh_time.synced ? 1 : 0);
  b.add("hana_mesh_time_error_seconds", "Bound on the distance of this node's mesh time to the coordinator's", kGauge,
        static_cast<double>(s.mesh_time.error_ns) * 1e-9);
  std::uint64_t by_state[4] = {};
  for (const auto& p : s.peers) ++by_state[static_cast<std::size_t>(p.state)];
  for (std::size_t i = 0; i < 4; ++i)
    b.add("hana_peers", "Members of this node's view by state", kGauge, static_cast<double>(by_state[i]),
          {{"state", std::string(to_string(static_cast<MemberState>(i)))}});
  for (const auto& [name, value] : s.engine) add_engine_counter(b, name, value);
  add_mesh(b, s.mesh);
  for (std::size_t lane = 0; lane < kLaneCount; ++lane)
    b.add("hana_app_queue_depth", "Messages queued by application threads for the event loop", kGauge,
          static_cast<double>(s.app_queue_depth[lane]), {{"lane", std::string(to_string(static_cast<Lane>(lane)))}});

  for (const auto& p : s.peers) {
    const std::vector<ClientMetric::Label> peer = {{"peer", peer_label(p)}};
    const ConnectionStats& c = p.connection;
    auto gauge = [&](const char* name, const char* help, double v) {
      b.add(std::string("hana_peer_") + name, help, kGauge, v, peer);
    };
    gauge("up", "1 if the peer is alive and connected", (p.connected && p.state == MemberState::Alive) ? 1 : 0);
    gauge("coordinator", "1 if the peer is the coordinator", p.role == Role::Coordinator ? 1 : 0);
    {
      auto labels = peer;
      labels.push_back({"transport", std::string(to_string(p.transport))});
      b.add("hana_peer_transport", "1 on the transport that carries the peer's datagrams (udp or tcp)", kGauge, 1,
            std::move(labels));
    }
    add_connection(b, c, peer);
    gauge("link_rtt_seconds", "Link round-trip time as the link-quality record holds it", us_to_s(p.link.rtt_us));
    gauge("link_jitter_seconds", "Link jitter (variation of the round-trip time)", us_to_s(p.link.jitter_us));
    gauge("link_loss_ratio", "Link loss rate, 0..1", p.link.loss_rate);
    gauge("link_throughput_bytes_per_second", "Link throughput", static_cast<double>(p.link.throughput_bytes_per_sec));
    if (p.clock_error_ns != 0) {  // no gauge before the first estimate
      gauge("clock_offset_seconds", "The peer's clock minus this node's (mesh clock estimate)",
            static_cast<double>(p.clock_offset_ns) * 1e-9);
      gauge("clock_error_seconds", "Bound on the error of clock_offset_seconds",
            static_cast<double>(p.clock_error_ns) * 1e-9);
    }
    for (std::size_t lane = 0; lane < kLaneCount; ++lane) {
      auto labels = peer;
      labels.push_back({"lane", std::string(to_string(static_cast<Lane>(lane)))});
      add_lane(b, c.lanes[lane], std::move(labels));
    }
  }
  return out;
}

std::vector<MetricFamily> families(const DisplayState::Published& d) {
  std::vector<MetricFamily> out;
  FamilyBuilder b(out);
  const DisplayStateStats& s = d.stats;
  b.add("hana_display_updates_applied_total", "Display updates (group updates and display syncs) applied here",
        kCounter, static_cast<double>(s.applied));
  b.add("hana_display_updates_stale_total", "Display updates dropped because their (version, author) was not newer",
        kCounter, static_cast<double>(s.stale_dropped));
  b.add("hana_display_updates_malformed_total", "Display bodies that failed to decode (dropped)", kCounter,
        static_cast<double>(s.malformed));
  b.add("hana_display_deadline_missed_total",
        "Display updates applied after their apply_at presentation deadline (mesh time) had passed", kCounter,
        static_cast<double>(s.deadline_missed));
  const char* age_help = "Update age (this node's mesh time minus the writer's stamp) over the last 4096 updates";
  b.add("hana_display_update_age_seconds", age_help, kGauge, us_to_s(s.age_p50_us), {{"stat", "p50"}});
  b.add("hana_display_update_age_seconds", age_help, kGauge, us_to_s(s.age_p99_us), {{"stat", "p99"}});
  b.add("hana_display_update_age_seconds", age_help, kGauge, us_to_s(s.age_max_us), {{"stat", "max"}});
  b.add("hana_display_groups", "Display groups this node holds a state of", kGauge, static_cast<double>(s.groups));
  b.add("hana_display_displays", "Displays this node holds a window layout of", kGauge,
        static_cast<double>(s.displays));
  for (const auto& m : d.metrics) {
    const std::vector<ClientMetric::Label> labels = {
        {"type", m.type == DisplayMessageType::GroupUpdate ? "group" : "display"}, {"id", m.id}};
    b.add("hana_display_applied_version", "Version of the state held for this group or display", kGauge,
          static_cast<double>(m.applied_version), labels);
    b.add("hana_display_last_update_age_seconds", "Age of the last update applied for this group or display", kGauge,
          us_to_s(m.last_age_us), labels);
    b.add("hana_display_id_deadline_missed_total",
          "Updates of this group or display applied after their presentation deadline", kCounter,
          static_cast<double>(m.deadline_missed), labels);
  }
  return out;
}

// One source's families on every scrape: `snapshot` is Node::stats or
// DisplayState::published, both safe to call from the exposer's thread.
template <class Source, class Snapshot>
class SourceCollectable : public prometheus::Collectable {
 public:
  SourceCollectable(const Source& source, Snapshot (Source::*snapshot)() const) : source_(source), snapshot_(snapshot) {}
  std::vector<MetricFamily> Collect() const override { return families((source_.*snapshot_)()); }

 private:
  const Source& source_;
  Snapshot (Source::*snapshot_)() const;
};
using NodeCollectable = SourceCollectable<Node, NodeStats>;
using DisplayCollectable = SourceCollectable<DisplayState, DisplayState::Published>;

}  // namespace

struct MetricsExporter::Impl {
  std::unique_ptr<prometheus::Exposer> exposer;
  std::shared_ptr<NodeCollectable> collectable;
  std::shared_ptr<DisplayCollectable> display;
};

MetricsExporter::MetricsExporter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MetricsExporter::~MetricsExporter() {
  if (!impl_ || !impl_->exposer) return;
  impl_->exposer->RemoveCollectable(impl_->collectable);
  if (impl_->display) impl_->exposer->RemoveCollectable(impl_->display);
}

void MetricsExporter::add_display_state(const DisplayState& display) {
  if (impl_->display) impl_->exposer->RemoveCollectable(impl_->display);
  impl_->display = std::make_shared<DisplayCollectable>(display, &DisplayState::published);
  impl_->exposer->RegisterCollectable(impl_->display);
}

Result<std::unique_ptr<MetricsExporter>> MetricsExporter::start(const Node& node, const std::string& bind) {
  auto impl = std::make_unique<Impl>();
  try {
    impl->exposer = std::make_unique<prometheus::Exposer>(bind, 1);
  } catch (const std::exception&) {
    return Error{Errc::Unavailable, "cannot listen on the metrics address"};
  }
  impl->collectable = std::make_shared<NodeCollectable>(node, &Node::stats);
  impl->exposer->RegisterCollectable(impl->collectable);
  return std::unique_ptr<MetricsExporter>(new MetricsExporter(std::move(impl)));
}

std::uint16_t MetricsExporter::port() const {
  const auto ports = impl_->exposer->GetListeningPorts();
  return ports.empty() ? 0 : static_cast<std::uint16_t>(ports.front());
}

std::string MetricsExporter::render(const NodeStats& stats) {
  return prometheus::TextSerializer().Serialize(families(stats));
}

std::string MetricsExporter::render(const DisplayState::Published& display) {
  return prometheus::TextSerializer().Serialize(families(display));
}

}  // namespace hana
