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

void add_lane(FamilyBuilder& b, const LaneStats& l, std::vector<ClientMetric::Label> labels) {
  auto c = [&](const char* name, const char* help, std::uint64_t v) {
    b.add(std::string("hana_lane_") + name, help, kCounter, static_cast<double>(v), labels);
  };
  c("messages_sent_total", "Messages accepted by send() on this lane", l.messages_sent);
  c("messages_received_total", "Messages delivered to the application on this lane", l.messages_received);
  c("sent_bytes_total", "Payload bytes accepted on this lane", l.bytes_sent);
  c("received_bytes_total", "Payload bytes delivered on this lane", l.bytes_received);
  c("delivered_total", "Delivery confirmations on this lane", l.delivered);
  c("failed_total", "Messages failed on this lane", l.failed);
  c("retransmits_total", "Frames of this lane sent again", l.retransmits);
  c("duplicates_total", "Duplicate messages suppressed on this lane", l.duplicates);
  c("stale_dropped_total", "Latest-value/sequenced versions dropped as old", l.stale_dropped);
  c("coalesced_total", "Unsent latest-value versions replaced by newer ones", l.coalesced);
  b.add("hana_lane_queue_depth", "Messages waiting to be sent on this lane", kGauge,
        static_cast<double>(l.queue_depth), labels);
}

std::vector<MetricFamily> families(const NodeStats& s) {
  std::vector<MetricFamily> out;
  FamilyBuilder b(out);
  b.add("hana_node_info", "Constant 1, labelled with the node's id, name, hana-net version and I/O backend", kGauge,
        1,
        {{"id", id_hex(s.self)}, {"name", s.name}, {"version", std::string(kVersion)}, {"backend", s.backend}});
  b.add("hana_coordinator_term", "Term of the coordinator this node follows", kGauge, static_cast<double>(s.term));
  std::uint64_t by_state[4] = {};
  for (const auto& p : s.peers) ++by_state[static_cast<std::size_t>(p.state)];
  for (std::size_t i = 0; i < 4; ++i)
    b.add("hana_peers", "Members of this node's view by state", kGauge, static_cast<double>(by_state[i]),
          {{"state", std::string(to_string(static_cast<MemberState>(i)))}});
  for (const auto& [name, value] : s.engine) add_engine_counter(b, name, value);
  for (std::size_t lane = 0; lane < kLaneCount; ++lane)
    b.add("hana_app_queue_depth", "Messages queued by application threads for the event loop", kGauge,
          static_cast<double>(s.app_queue_depth[lane]), {{"lane", std::string(to_string(static_cast<Lane>(lane)))}});

  for (const auto& p : s.peers) {
    const std::vector<ClientMetric::Label> peer = {{"peer", peer_label(p)}};
    const ConnectionStats& c = p.connection;
    auto counter = [&](const char* name, const char* help, std::uint64_t v) {
      b.add(std::string("hana_peer_") + name, help, kCounter, static_cast<double>(v), peer);
    };
    auto gauge = [&](const char* name, const char* help, double v) {
      b.add(std::string("hana_peer_") + name, help, kGauge, v, peer);
    };
    gauge("up", "1 if the peer is alive and connected", (p.connected && p.state == MemberState::Alive) ? 1 : 0);
    gauge("coordinator", "1 if the peer is the coordinator", p.role == Role::Coordinator ? 1 : 0);
    counter("packets_sent_total", "Datagrams sent to the peer", c.packets_sent);
    counter("packets_received_total", "Datagrams received from the peer", c.packets_received);
    counter("sent_bytes_total", "Datagram bytes sent to the peer", c.bytes_sent);
    counter("received_bytes_total", "Datagram bytes received from the peer", c.bytes_received);
    counter("packets_lost_total", "Packets declared lost", c.packets_lost);
    counter("retransmits_total", "Frames retransmitted", c.retransmits);
    counter("duplicate_packets_total", "Duplicate datagrams received", c.duplicate_packets);
    counter("bad_packets_total", "Undecodable datagrams from the peer", c.bad_packets);
    counter("probe_timeouts_total", "Probe timeouts fired", c.pto_count);
    counter("acks_sent_total", "ACK frames sent to the peer", c.acks_sent);
    counter("unexpected_acks_total", "ACK frames from the peer naming packets never sent (ignored)", c.unexpected_acks);
    counter("bad_frames_total", "Well-formed but inconsistent frames from the peer (e.g. fragment totals)", c.bad_frames);
    counter("resource_limit_closes_total", "Times the peer was cut off for exceeding reassembly/window limits",
            c.resource_limit_closes);
    counter("rtt_samples_total", "RTT samples taken (0: the RTT gauges still hold the initial_rtt_us assumption)",
            c.rtt_samples);
    counter("congestion_events_total", "Entries into congestion recovery", c.congestion_events);
    counter("token_bucket_delays_total", "Sends held back by the token bucket", c.token_bucket_delays);
    counter("token_bucket_drops_total", "Unreliable messages dropped by the token bucket", c.token_bucket_drops);
    gauge("rtt_smoothed_seconds", "Smoothed round-trip time", us_to_s(c.rtt_smoothed_us));
    gauge("rtt_min_seconds", "Minimum round-trip time", us_to_s(c.rtt_min_us));
    gauge("rtt_variance_seconds", "Round-trip time variation", us_to_s(c.rtt_var_us));
    gauge("rtt_latest_seconds", "Latest round-trip time sample", us_to_s(c.rtt_latest_us));
    gauge("link_rtt_seconds", "Link round-trip time as the link-quality record holds it", us_to_s(p.link.rtt_us));
    gauge("link_jitter_seconds", "Link jitter (variation of the round-trip time)", us_to_s(p.link.jitter_us));
    gauge("link_loss_ratio", "Link loss rate, 0..1", p.link.loss_rate);
    gauge("link_throughput_bytes_per_second", "Link throughput", static_cast<double>(p.link.throughput_bytes_per_sec));
    gauge("cwnd_bytes", "Congestion window", static_cast<double>(c.cwnd_bytes));
    gauge("bytes_in_flight", "Bytes sent and not yet acknowledged", static_cast<double>(c.bytes_in_flight));
    gauge("pacing_rate_bytes_per_second", "Pacing rate", static_cast<double>(c.pacing_rate_bytes_per_sec));
    gauge("in_recovery", "1 while in congestion recovery", c.in_recovery ? 1 : 0);
    gauge("reassembly_bytes", "Bytes held in partially received messages", static_cast<double>(c.reassembly_bytes));
    for (std::size_t lane = 0; lane < kLaneCount; ++lane) {
      auto labels = peer;
      labels.push_back({"lane", std::string(to_string(static_cast<Lane>(lane)))});
      add_lane(b, c.lanes[lane], std::move(labels));
    }
  }
  return out;
}

class NodeCollectable : public prometheus::Collectable {
 public:
  explicit NodeCollectable(const Node& node) : node_(node) {}
  std::vector<MetricFamily> Collect() const override { return families(node_.stats()); }

 private:
  const Node& node_;
};

}  // namespace

struct MetricsExporter::Impl {
  std::unique_ptr<prometheus::Exposer> exposer;
  std::shared_ptr<NodeCollectable> collectable;
};

MetricsExporter::MetricsExporter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MetricsExporter::~MetricsExporter() {
  if (impl_ && impl_->exposer) impl_->exposer->RemoveCollectable(impl_->collectable);
}

Result<std::unique_ptr<MetricsExporter>> MetricsExporter::start(const Node& node, const std::string& bind) {
  auto impl = std::make_unique<Impl>();
  try {
    impl->exposer = std::make_unique<prometheus::Exposer>(bind, 1);
  } catch (const std::exception&) {
    return Error{Errc::Unavailable, "cannot listen on the metrics address"};
  }
  impl->collectable = std::make_shared<NodeCollectable>(node);
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

}  // namespace hana
