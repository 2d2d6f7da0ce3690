#include "stats_json.h"

#include <cstdio>

namespace hana::cli {

using nlohmann::json;

std::string node_id_hex(NodeId id) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(id));
  return buf;
}

namespace {

json lane_json(const LaneStats& l) {
  return {{"messages_sent", l.messages_sent}, {"messages_received", l.messages_received},
          {"bytes_sent", l.bytes_sent},       {"bytes_received", l.bytes_received},
          {"delivered", l.delivered},         {"failed", l.failed},
          {"retransmits", l.retransmits},     {"duplicates", l.duplicates},
          {"stale_dropped", l.stale_dropped}, {"coalesced", l.coalesced},
          {"queue_depth", l.queue_depth}};
}

json lanes_json(const std::array<LaneStats, kLaneCount>& lanes) {
  json out = json::object();
  for (std::size_t i = 0; i < kLaneCount; ++i) out[std::string(to_string(static_cast<Lane>(i)))] = lane_json(lanes[i]);
  return out;
}

json connection_json(const ConnectionStats& c) {
  return {{"packets_sent", c.packets_sent},
          {"packets_received", c.packets_received},
          {"bytes_sent", c.bytes_sent},
          {"bytes_received", c.bytes_received},
          {"packets_lost", c.packets_lost},
          {"retransmits", c.retransmits},
          {"duplicate_packets", c.duplicate_packets},
          {"bad_packets", c.bad_packets},
          {"pto_count", c.pto_count},
          {"acks_sent", c.acks_sent},
          {"rtt_smoothed_us", c.rtt_smoothed_us},
          {"rtt_min_us", c.rtt_min_us},
          {"rtt_var_us", c.rtt_var_us},
          {"rtt_latest_us", c.rtt_latest_us},
          {"rtt_samples", c.rtt_samples},
          {"cwnd_bytes", c.cwnd_bytes},
          {"bytes_in_flight", c.bytes_in_flight},
          {"pacing_rate_bytes_per_sec", c.pacing_rate_bytes_per_sec},
          {"congestion_events", c.congestion_events},
          {"in_recovery", c.in_recovery},
          {"token_bucket_delays", c.token_bucket_delays},
          {"token_bucket_drops", c.token_bucket_drops},
          {"reassembly_bytes", c.reassembly_bytes},
          {"resource_limit_closes", c.resource_limit_closes},
          {"unexpected_acks", c.unexpected_acks},
          {"bad_frames", c.bad_frames},
          {"lanes", lanes_json(c.lanes)}};
}

double loss_rate(const PeerStats& p) {
  if (p.link.loss_rate > 0) return p.link.loss_rate;
  const auto& c = p.connection;
  return c.packets_sent ? static_cast<double>(c.packets_lost) / static_cast<double>(c.packets_sent) : 0.0;
}

}  // namespace

json peers_json(const NodeStats& s) {
  json peers = json::array();
  for (const auto& p : s.peers) {
    json displays = json::array();
    for (const auto& d : p.displays)
      displays.push_back({{"id", d.id}, {"available", d.available}, {"metadata", d.metadata}});
    peers.push_back({{"id", node_id_hex(p.peer)},
                     {"name", p.name},
                     {"address", p.address.to_string()},
                     {"state", std::string(to_string(p.state))},
                     {"role", std::string(to_string(p.role))},
                     {"incarnation", p.incarnation},
                     {"connected", p.connected},
                     {"rtt_us", p.link.rtt_us ? p.link.rtt_us : p.connection.rtt_smoothed_us},
                     {"jitter_us", p.link.jitter_us},
                     {"loss", loss_rate(p)},
                     {"displays", displays}});
  }
  return {{"self", node_id_hex(s.self)},
          {"coordinator", s.coordinator ? json(node_id_hex(*s.coordinator)) : json(nullptr)},
          {"term", s.term},
          {"peers", peers}};
}

json stats_json(const NodeStats& s) {
  json engine = json::object();
  for (const auto& [name, value] : s.engine) engine[std::string(name)] = value;
  json app_queue = json::object();
  for (std::size_t i = 0; i < kLaneCount; ++i)
    app_queue[std::string(to_string(static_cast<Lane>(i)))] = s.app_queue_depth[i];
  json peers = json::array();
  for (const auto& p : s.peers)
    peers.push_back({{"id", node_id_hex(p.peer)},
                     {"name", p.name},
                     {"state", std::string(to_string(p.state))},
                     {"connected", p.connected},
                     {"connection", connection_json(p.connection)}});
  return {{"node",
           {{"id", node_id_hex(s.self)},
            {"name", s.name},
            {"backend", s.backend},
            {"address", s.local_address.to_string()},
            {"coordinator", s.coordinator ? json(node_id_hex(*s.coordinator)) : json(nullptr)},
            {"term", s.term},
            {"event_queue_depth", s.event_queue_depth},
            {"app_queue_depth", app_queue},
            {"engine", engine},
            {"lanes", lanes_json(s.lanes)}}},
          {"peers", peers}};
}

json links_json(const NodeStats& s) {
  // Names where the view knows them (this node's own name is not in its view).
  auto name_of = [&](NodeId id) -> std::string {
    for (const auto& p : s.peers)
      if (p.peer == id) return p.name;
    return id == s.self ? "(self)" : "";
  };
  json links = json::array();
  for (const auto& l : s.links)
    links.push_back({{"observer", node_id_hex(l.observer)},
                     {"observer_name", name_of(l.observer)},
                     {"peer", node_id_hex(l.peer)},
                     {"peer_name", name_of(l.peer)},
                     {"rtt_us", l.quality.rtt_us},
                     {"jitter_us", l.quality.jitter_us},
                     {"loss", l.quality.loss_rate},
                     {"throughput_bytes_per_sec", l.quality.throughput_bytes_per_sec},
                     {"age_ms", l.age_ms}});
  return {{"self", node_id_hex(s.self)}, {"links", links}};
}

}  // namespace hana::cli
