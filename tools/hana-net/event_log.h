// `hana-net node --events PATH`: one JSON line per membership, role and display event,
// stamped with the wall-clock time (CLOCK_REALTIME, µs) at which the daemon took it, so
// that latencies can be measured across processes (e.g. kill time -> peer-disconnected).
#pragma once

#include <cstdio>
#include <memory>
#include <string>

#include "hana/node.h"

namespace hana::cli {

class EventLog {
 public:
  // "-" = stdout. nullptr and `error` set when the file cannot be opened.
  static std::unique_ptr<EventLog> open(const std::string& path, NodeId self, std::string& error);
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;
  // Writes (and flushes) one line when `e` is of a logged kind; others are ignored.
  void write(const Event& e);

 private:
  EventLog(std::FILE* f, bool owned, NodeId self) : f_(f), owned_(owned), self_(self) {}
  std::FILE* f_;
  bool owned_;
  NodeId self_;
};

}  // namespace hana::cli
