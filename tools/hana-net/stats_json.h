// JSON views of a node's state, shared by the control socket and the CLI's --json output.
#pragma once

#include <nlohmann/json.hpp>

#include "hana/node.h"

namespace hana::cli {

nlohmann::json peers_json(const NodeStats& stats);  // {"self":..,"coordinator":..,"term":..,"peers":[...]}
nlohmann::json stats_json(const NodeStats& stats);  // node, per-peer and per-lane counters
nlohmann::json links_json(const NodeStats& stats);  // {"self":..,"links":[{observer, peer, rtt_us, ...}]}
std::string node_id_hex(NodeId id);

}  // namespace hana::cli
