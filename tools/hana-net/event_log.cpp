#include "event_log.h"

#include <time.h>

#include <nlohmann/json.hpp>

#include "stats_json.h"

namespace hana::cli {

std::unique_ptr<EventLog> EventLog::open(const std::string& path, NodeId self, std::string& error) {
  if (path == "-") return std::unique_ptr<EventLog>(new EventLog(stdout, false, self));
  std::FILE* f = std::fopen(path.c_str(), "a");
  if (!f) {
    error = "--events: cannot open '" + path + "' for writing";
    return nullptr;
  }
  return std::unique_ptr<EventLog>(new EventLog(f, true, self));
}

EventLog::~EventLog() {
  if (owned_) std::fclose(f_);
}

void EventLog::write(const Event& e) {
  switch (e.kind) {
    case EventKind::Received:
    case EventKind::Delivered:
    case EventKind::Failed:
    case EventKind::CongestionChanged:
    case EventKind::LinkQualityChanged: return;  // per-message or frequent: see stats
    default: break;
  }
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  nlohmann::json j;
  j["t_unix_us"] = static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000 + static_cast<std::uint64_t>(ts.tv_nsec) / 1000;
  j["self"] = node_id_hex(self_);
  j["event"] = std::string(to_string(e.kind));
  j["peer"] = node_id_hex(e.peer);
  if (e.kind == EventKind::PeerConnected || e.kind == EventKind::JoinRefused) j["address"] = e.address.to_string();
  if (e.kind == EventKind::JoinRefused) j["reason"] = std::string(to_string(e.reason));
  if (e.kind == EventKind::RoleChanged) {
    j["role"] = std::string(to_string(e.role));
    j["term"] = e.term;
  }
  if (e.kind == EventKind::DisplayAvailable || e.kind == EventKind::DisplayUnavailable) {
    j["display"] = e.display.id;
    j["metadata"] = e.display.metadata;
  }
  std::fprintf(f_, "%s\n", j.dump().c_str());
  std::fflush(f_);
}

}  // namespace hana::cli
