// hana::DisplayState: the seed's display state API on top of a Node. A thin layer over the
// latest-value channel, not a second transport:
//   - propagate_group_update() / propagate_display_sync() broadcast on the HIGH lane as
//     reliable latest-value messages keyed by the group / display id (an unsent older
//     version of the same id is replaced in place by the newer one);
//   - handle(event) applies received ones only if version > current (stale ones counted,
//     never applied) and then calls on_group_update / on_display_sync;
//   - when a peer connects, the latest state this node authored is sent to it (the late
//     joiner's snapshot);
//   - stats()/metrics() give applied versions, stale drops and update age.
// Not thread-safe: use one DisplayState from the thread that polls the Node's events.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "hana/display_state_store.h"
#include "hana/display_types.h"
#include "hana/node.h"
#include "hana/result.h"

namespace hana {

class DisplayState {
 public:
  using GroupUpdateHandler = std::function<void(const DisplayGroupUpdate&, NodeId from)>;
  using DisplaySyncHandler = std::function<void(const DisplaySync&, NodeId from)>;

  explicit DisplayState(Node& node);

  // Errors: InvalidArgument (bad message), QueueFull (back-pressure), Closed.
  Result<MessageId> propagate_group_update(const DisplayGroupUpdate& update);
  Result<MessageId> propagate_display_sync(const DisplaySync& sync);

  void on_group_update(GroupUpdateHandler handler) { on_group_update_ = std::move(handler); }
  void on_display_sync(DisplaySyncHandler handler) { on_display_sync_ = std::move(handler); }

  // Feed every event polled from the Node. Returns true if the event was a display
  // message (consumed here); other events are the application's.
  bool handle(const Event& event);

  DisplayStateStats stats() const { return store_.stats(); }
  std::vector<DisplaySyncMetrics> metrics() const { return store_.metrics(); }
  const DisplayStateStore& store() const { return store_; }

 private:
  template <class Message>
  Result<MessageId> propagate(const Message& message, DisplayMessageType type, const std::string& id,
                              std::uint32_t version);
  void send_snapshot(NodeId peer);

  Node& node_;
  DisplayStateStore store_;
  GroupUpdateHandler on_group_update_;
  DisplaySyncHandler on_display_sync_;
  // The latest encoded body this node authored per id, re-sent to peers that join later.
  struct Authored {
    std::uint64_t key;
    std::uint32_t version;
    std::vector<std::uint8_t> body;
  };
  std::unordered_map<std::string, Authored> authored_;
  std::vector<std::uint8_t> scratch_;
};

// Microseconds since the Unix epoch (the clock DisplayGroupUpdate::timestamp_us uses).
std::uint64_t wall_clock_us();

}  // namespace hana
