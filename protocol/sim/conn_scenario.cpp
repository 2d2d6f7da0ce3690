#include "protocol/sim/conn_scenario.h"

#include <algorithm>
#include <memory>

#include "protocol/sim/connection_endpoint.h"

namespace hana::sim {
namespace {

constexpr TimeNs kLingerNs = 20 * kNsPerMs;  // after settling: let late duplicates arrive

Address node_address(std::size_t i) {
  return Address::ipv4(10, 0, static_cast<std::uint8_t>(i / 250), static_cast<std::uint8_t>(i % 250 + 1), 7000);
}

struct StreamState {
  std::uint64_t next_index = 0;
  TimeNs retry_at = 0;  // after QueueFull: not before this
};

struct Flow {
  std::size_t from = 0;
  std::size_t to = 0;
  std::unique_ptr<FlowOracle> oracle;
  std::vector<StreamState> streams;
};

void add_stats(ConnectionStats& a, const ConnectionStats& b) {
  const std::uint64_t a_samples = a.rtt_samples;
  // Counters add up (every one in the stats table, so a new one is never left out).
#define HANA_CONNECTION_STAT(kind, type, name, prom, doc) \
  if constexpr (StatKind::kind == StatKind::Counter) a.name = static_cast<type>(a.name + b.name);
#include "hana/stats.def"
  if (b.rtt_samples > 0 || a_samples == 0) {  // gauges: the last connection that measured its path
    a.rtt_smoothed_us = b.rtt_smoothed_us;
    a.rtt_min_us = b.rtt_min_us;
    a.rtt_var_us = b.rtt_var_us;
    a.cwnd_bytes = b.cwnd_bytes;
  }
  for (std::size_t l = 0; l < kLaneCount; ++l) {
    a.lanes[l] += b.lanes[l];
  }
}

LaneLatency summarize(const std::vector<TimeNs>& samples) {
  LaneLatency l;
  l.samples = samples.size();
  if (samples.empty()) return l;
  l.p50_ns = percentile(samples, 50);
  l.p99_ns = percentile(samples, 99);
  l.max_ns = *std::max_element(samples.begin(), samples.end());
  return l;
}

std::string validate(const ConnScenario& sc) {
  if (sc.nodes < 2 || sc.nodes > 250 * 250) return "nodes must be 2..62500";
  if (sc.streams.empty() || sc.streams.size() > 255) return "need 1..255 streams";
  // The oracle keeps ~16 bytes per message per flow: cap the total so a command line
  // cannot ask for gigabytes.
  constexpr double kMaxTrackedMessages = 20e6;
  const double flows = sc.all_pairs ? static_cast<double>(sc.nodes) * static_cast<double>(sc.nodes - 1) : 1.0;
  double per_flow = 0;
  for (const auto& s : sc.streams) per_flow += static_cast<double>(s.messages);
  if (flows * per_flow > kMaxTrackedMessages) return "too many messages in total (flows x messages > 20 million)";
  for (const auto& s : sc.streams) {
    if (s.min_bytes > s.max_bytes) return "stream min_bytes > max_bytes";
    if (!(s.rate_per_sec >= 0)) return "stream rate must be >= 0";
    if (s.latest_value && s.keys == 0) return "latest-value stream needs keys >= 1";
  }
  for (const auto& p : sc.partitions)
    if (p.start_ns >= p.end_ns) return "partition window must have start < end";
  for (const auto& c : sc.crashes)
    if (c.node >= sc.nodes) return "crash of a node that does not exist";
  if (auto v = sc.config.validate(); !v) return v.error().message;
  return {};
}

class Runner {
 public:
  explicit Runner(const ConnScenario& sc) : sc_(sc), net_(sc.seed, sc.link), driver_(net_), sizes_(sc.seed ^ 0x5157) {
    if (sc.tap) net_.set_tap(sc.tap);
    const std::size_t n = sc.nodes;
    for (std::size_t i = 0; i < n; ++i) nodes_.push_back(std::make_unique<ConnectionEndpoint>(node_address(i), sc.config));
    flow_of_.assign(n * n, -1);
    in_recovery_.assign(n * n, 0);
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < n; ++j) {
        if (i == j || (!sc.all_pairs && !(i == 0 && j == 1))) continue;
        flow_of_[i * n + j] = static_cast<int>(flows_.size());
        Flow f;
        f.from = i;
        f.to = j;
        f.oracle = std::make_unique<FlowOracle>(sc.streams);
        f.streams.resize(sc.streams.size());
        flows_.push_back(std::move(f));
      }
    }
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < n; ++j) {
        if (i == j) continue;
        if (!sc.all_pairs && i > 1) continue;
        if (!sc.all_pairs && j > 1) continue;
        nodes_[i]->connect(node_address(j),
                           protocol::ConnectionIds{static_cast<std::uint32_t>(i * n + j + 1),
                                                   static_cast<std::uint32_t>(j * n + i + 1)},
                           0);
      }
      nodes_[i]->set_event_sink([this, i](const Address& peer, const protocol::ConnectionEvent& e, TimeNs now) {
        on_event(i, peer, e, now);
      });
      driver_.add(node_address(i), *nodes_[i]);
    }
    payload_.resize(std::max<std::size_t>(kPayloadHeaderBytes, max_payload()));
    for (const auto& p : sc.partitions) {
      changes_.push_back({p.start_ns, ChangeKind::Cut, 0});
      changes_.push_back({p.end_ns, ChangeKind::Heal, 0});
    }
    for (const auto& c : sc.crashes) changes_.push_back({c.at_ns, ChangeKind::Crash, c.node});
    std::stable_sort(changes_.begin(), changes_.end(), [](const Change& a, const Change& b) { return a.at < b.at; });
  }

  ConnScenarioResult run() {
    ConnScenarioResult r;
    DriveOutcome outcome{DriveStatus::Satisfied, 0, 0};
    // Phase 1: queue every message on its schedule.
    while (error_.empty()) {
      apply_partitions();
      send_due();
      auto next = next_send_time();
      if (!next) break;
      if (next_change() && *next_change() < *next) next = next_change();
      outcome = driver_.run_until(*next, budget(), [this] { top_up_saturating(); });
      steps_ += outcome.steps;
      if (!outcome.ok()) break;
    }
    // Phase 2: wait until every reliable message has its outcome (partitions still
    // start and end on schedule).
    if (outcome.ok() && error_.empty()) {
      const TimeNs settle_deadline = driver_.now() + sc_.settle_limit_ns;
      while (true) {
        apply_partitions();
        const auto change = next_change();
        const TimeNs deadline = change ? std::min(*change, settle_deadline) : settle_deadline;
        outcome = driver_.drive_until([this] { return settled(); }, deadline, budget());
        steps_ += outcome.steps;
        if (outcome.status != DriveStatus::TimeLimit || !change || *change > settle_deadline) break;
        outcome = driver_.run_until(*change, budget());
        steps_ += outcome.steps;
        if (!outcome.ok()) break;
      }
      if (outcome.ok()) {
        auto linger = driver_.run_until(driver_.now() + kLingerNs, budget());
        steps_ += linger.steps;
        if (!linger.ok()) outcome = linger;
      }
    }
    outcome.steps = steps_;
    r.outcome = outcome;
    r.error = error_;
    for (auto& f : flows_) {
      f.oracle->finish();
      r.report.merge(f.oracle->report());
    }
    for (auto& node : nodes_) {
      for (const auto& peer : node->peers()) add_stats(r.senders, node->connection(peer)->stats());
      r.endpoint_drops += node->counters().undecodable + node->counters().unknown_peer + node->counters().wrong_conn_id;
    }
    r.congestion_entered = congestion_entered_;
    r.congestion_left = congestion_left_;
    r.congestion_order_violations = congestion_order_violations_;
    r.network = net_.counters();
    r.trace_hash = net_.trace_hash();
    std::vector<TimeNs> all;
    for (std::size_t l = 0; l < kLaneCount; ++l) {
      r.lane_latency[l] = summarize(r.report.latency_ns[l]);
      all.insert(all.end(), r.report.latency_ns[l].begin(), r.report.latency_ns[l].end());
    }
    r.all_latency = summarize(all);
    if (r.report.received > 0 && r.report.last_receive > r.report.first_send) {
      r.duration_ns = r.report.last_receive - r.report.first_send;
      r.goodput_mbps = static_cast<double>(r.report.received_bytes) * 8e3 / static_cast<double>(r.duration_ns);
    }
    return r;
  }

 private:
  std::size_t max_payload() const {
    std::size_t m = 0;
    for (const auto& s : sc_.streams) m = std::max<std::size_t>(m, s.max_bytes);
    return m;
  }
  std::uint64_t budget() const { return steps_ >= sc_.max_steps ? 0 : sc_.max_steps - steps_; }

  TimeNs scheduled(const StreamSpec& spec, std::uint64_t index) const {
    return static_cast<TimeNs>(static_cast<double>(index) * 1e9 / spec.rate_per_sec);
  }

  // Tries to queue message `st.next_index`; false on back-pressure or error.
  bool send_next(Flow& f, std::size_t stream, TimeNs now) {
    const StreamSpec& spec = sc_.streams[stream];
    StreamState& st = f.streams[stream];
    const std::uint64_t index = st.next_index;
    const std::uint32_t lo = std::max<std::uint32_t>(spec.min_bytes, kPayloadHeaderBytes);
    const std::uint32_t hi = std::max(lo, spec.max_bytes);
    const std::size_t size = lo + sizes_.up_to(hi - lo);
    std::span<std::uint8_t> payload(payload_.data(), size);
    write_payload(payload, PayloadHeader{static_cast<std::uint8_t>(stream), index, now});
    SendOptions opts;
    opts.lane = spec.lane;
    opts.delivery = spec.delivery;
    opts.latest_value = spec.latest_value;
    if (spec.latest_value) {
      opts.key = index % spec.keys;
      opts.version = index + 1;
    }
    protocol::Connection* conn = nodes_[f.from]->connection(node_address(f.to));
    auto id = conn->send(payload, opts, now);
    if (!id) {
      if (id.error().code == Errc::QueueFull) {
        f.oracle->on_rejected();
        st.retry_at = now + sc_.tick_ns;
      } else {
        error_ = std::string("send failed: ") + std::string(to_string(id.error().code)) + ": " + id.error().message;
      }
      return false;
    }
    f.oracle->on_sent(static_cast<std::uint8_t>(stream), index, *id, size, now);
    ++st.next_index;
    return true;
  }

  void send_due() {
    const TimeNs now = driver_.now();
    for (auto& f : flows_) {
      for (std::size_t s = 0; s < sc_.streams.size(); ++s) {
        const StreamSpec& spec = sc_.streams[s];
        StreamState& st = f.streams[s];
        while (error_.empty() && st.next_index < spec.messages && st.retry_at <= now &&
               (spec.rate_per_sec == 0 || scheduled(spec, st.next_index) <= now)) {
          if (!send_next(f, s, now)) break;
        }
      }
      nodes_[f.from]->drain_events(now);
    }
  }

  void top_up_saturating() {
    const TimeNs now = driver_.now();
    for (auto& f : flows_) {
      bool sent = false;
      for (std::size_t s = 0; s < sc_.streams.size(); ++s) {
        const StreamSpec& spec = sc_.streams[s];
        StreamState& st = f.streams[s];
        if (spec.rate_per_sec != 0) continue;
        while (error_.empty() && st.next_index < spec.messages && send_next(f, s, now)) sent = true;
      }
      if (sent) nodes_[f.from]->drain_events(now);
    }
  }

  std::optional<TimeNs> next_send_time() const {
    std::optional<TimeNs> next;
    const TimeNs now = driver_.now();
    for (const auto& f : flows_) {
      for (std::size_t s = 0; s < sc_.streams.size(); ++s) {
        const StreamSpec& spec = sc_.streams[s];
        const StreamState& st = f.streams[s];
        if (st.next_index >= spec.messages) continue;
        TimeNs t = spec.rate_per_sec == 0 ? now + sc_.tick_ns : scheduled(spec, st.next_index);
        t = std::max({t, st.retry_at, now + 1});
        next = next ? std::min(*next, t) : t;
      }
    }
    return next;
  }

  void apply_partitions() {
    const TimeNs now = driver_.now();
    while (next_change_ < changes_.size() && changes_[next_change_].at <= now) {
      const Change& c = changes_[next_change_];
      if (c.kind == ChangeKind::Cut) {
        std::vector<Address> rest;
        for (std::size_t i = 1; i < nodes_.size(); ++i) rest.push_back(node_address(i));
        net_.partition({{node_address(0)}, rest});
      } else if (c.kind == ChangeKind::Heal) {
        net_.heal();
      } else {
        driver_.set_up(node_address(c.node), false);
      }
      ++next_change_;
    }
  }
  std::optional<TimeNs> next_change() const {
    if (next_change_ >= changes_.size()) return std::nullopt;
    return std::max(changes_[next_change_].at, driver_.now());
  }

  bool settled() const {
    return std::all_of(flows_.begin(), flows_.end(), [](const Flow& f) { return f.oracle->settled(); });
  }

  void on_event(std::size_t self, const Address& peer_address, const protocol::ConnectionEvent& e, TimeNs now) {
    // Address -> index: node addresses are a pure function of the index.
    const std::size_t n = sc_.nodes;
    const std::size_t peer = static_cast<std::size_t>(peer_address.ip[2]) * 250 + peer_address.ip[3] - 1;
    if (peer >= n) return;
    if (const auto* d = std::get_if<protocol::DeliveredEvent>(&e)) {
      if (int f = flow_of_[self * n + peer]; f >= 0) flows_[f].oracle->on_delivered(*d);
    } else if (const auto* fl = std::get_if<protocol::FailedEvent>(&e)) {
      if (int f = flow_of_[self * n + peer]; f >= 0) flows_[f].oracle->on_failed(*fl);
    } else if (const auto* rx = std::get_if<protocol::ReceivedEvent>(&e)) {
      if (int f = flow_of_[peer * n + self]; f >= 0) flows_[f].oracle->on_received(*rx, now);
    } else if (const auto* cg = std::get_if<protocol::CongestionEvent>(&e)) {
      std::uint8_t& in_recovery = in_recovery_[self * n + peer];
      if (cg->in_recovery == (in_recovery != 0)) ++congestion_order_violations_;
      in_recovery = cg->in_recovery ? 1 : 0;
      ++(cg->in_recovery ? congestion_entered_ : congestion_left_);
    }
  }

  const ConnScenario& sc_;
  Network net_;
  Driver<ConnectionEndpoint> driver_;
  Prng sizes_;
  std::vector<std::unique_ptr<ConnectionEndpoint>> nodes_;
  std::vector<Flow> flows_;
  std::vector<int> flow_of_;  // [from * n + to] -> index into flows_, -1 if no flow
  std::vector<std::uint8_t> in_recovery_;  // [node * n + peer]: last CongestionEvent state (1 = in recovery)
  std::uint64_t congestion_entered_ = 0;
  std::uint64_t congestion_left_ = 0;
  std::uint64_t congestion_order_violations_ = 0;
  std::vector<std::uint8_t> payload_;
  std::uint64_t steps_ = 0;
  std::string error_;
  enum class ChangeKind : std::uint8_t { Cut, Heal, Crash };
  struct Change {
    TimeNs at;
    ChangeKind kind;
    std::size_t node;  // Crash only
  };
  std::vector<Change> changes_;
  std::size_t next_change_ = 0;
};

}  // namespace

ConnScenarioResult run_conn_scenario(const ConnScenario& scenario) {
  if (auto err = validate(scenario); !err.empty()) {
    ConnScenarioResult r;
    r.error = err;
    r.outcome.status = DriveStatus::Idle;
    return r;
  }
  Runner runner(scenario);
  return runner.run();
}

}  // namespace hana::sim
