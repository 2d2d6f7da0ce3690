#include "stats_json.h"

#include <cmath>
#include <cstdio>

namespace hana::cli {

using nlohmann::json;

std::string node_id_hex(NodeId id) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(id));
  return buf;
}

namespace {

// Every field of the stats tables (hana/stats.def), by its field name.
json lane_json(const LaneStats& l) {
  json out = json::object();
#define HANA_LANE_STAT(kind, name, prom, doc) out[#name] = l.name;
#include "hana/stats.def"
  return out;
}

json lanes_json(const std::array<LaneStats, kLaneCount>& lanes) {
  json out = json::object();
  for (std::size_t i = 0; i < kLaneCount; ++i) out[std::string(to_string(static_cast<Lane>(i)))] = lane_json(lanes[i]);
  return out;
}

json connection_json(const ConnectionStats& c) {
  json out = json::object();
#define HANA_CONNECTION_STAT(kind, type, name, prom, doc) out[#name] = c.name;
#include "hana/stats.def"
  out["lanes"] = lanes_json(c.lanes);
  return out;
}

json mesh_json(const MeshStats& m) {
  json out = json::object();
#define HANA_MESH_STAT(name, doc) out[#name] = m.name;
#include "hana/stats.def"
  json by_error = json::object();
  for (std::size_t e = 0; e < kDecodeErrorCount; ++e)
    by_error[std::string(to_string(static_cast<DecodeError>(e)))] = m.bad_datagrams_by_error[e];
  out["bad_datagrams_by_error"] = std::move(by_error);
  return out;
}

double loss_rate(const PeerStats& p) {
  if (p.link.loss_rate > 0) return p.link.loss_rate;
  const auto& c = p.connection;
  return c.packets_sent ? static_cast<double>(c.packets_lost) / static_cast<double>(c.packets_sent) : 0.0;
}

// Mesh clock values in microseconds with 0.1 us resolution; null before the first
// estimate (an estimate's error is never 0).
json clock_us(std::uint64_t error_ns, double ns) {
  return error_ns == 0 ? json(nullptr) : json(std::round(ns / 100) / 10);
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
                     {"transport", std::string(to_string(p.transport))},
                     {"rtt_us", p.link.rtt_us ? p.link.rtt_us : p.connection.rtt_smoothed_us},
                     {"jitter_us", p.link.jitter_us},
                     {"loss", loss_rate(p)},
                     {"clock_offset_us", clock_us(p.clock_error_ns, static_cast<double>(p.clock_offset_ns))},
                     {"clock_error_us", clock_us(p.clock_error_ns, static_cast<double>(p.clock_error_ns))},
                     {"displays", displays}});
  }
  return {{"self", node_id_hex(s.self)},
          {"coordinator", s.coordinator ? json(node_id_hex(*s.coordinator)) : json(nullptr)},
          {"term", s.term},
          {"mesh_time", {{"synced", s.mesh_time.synced}, {"error_us", static_cast<double>(s.mesh_time.error_ns) / 1000}}},
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
            {"mesh", mesh_json(s.mesh)},
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
