// hana::DisplayState: the seed's display state API on top of a Node. A thin layer over the
// latest-value channel, not a second transport:
//   - propagate_group_update() / propagate_display_sync() stamp the message with this node
//     as its author (and, for version 0, the next version of that id), apply it locally and
//     broadcast it on the HIGH lane as a reliable latest-value message keyed by the id (an
//     unsent older one of the same id is replaced in place by the newer one);
//   - handle(event) applies received ones only if their (version, author) stamp is above
//     the held one (stale ones counted, never applied), then calls on_group_update /
//     on_display_sync;
//   - when a peer connects, every state this node holds, whoever wrote it, is sent to it:
//     a late joiner catches up from any member, so a dead author never freezes the wall;
//   - stats()/metrics() give applied versions, stale drops and update age; published()
//     is a copy of both that any thread may read (the Prometheus exporter's scrape).
// Not thread-safe apart from published(): use one DisplayState from the thread that polls
// the Node's events.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
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

  // The node's mesh time in µs (Node::mesh_time_ns): what DisplayGroupUpdate::timestamp_us
  // should hold, and what update age is measured against, so that age is true across
  // hosts once both ends are synced (docs/api.md, "Mesh time").
  std::uint64_t mesh_time_us() const;

  // `author` is always set to this node's id. Version 0 asks for next_*_version(id); an
  // explicit version is sent as given (receivers drop it if not above what they hold).
  // Errors: InvalidArgument (bad message, or the id's 32-bit versions are used up),
  // QueueFull (back-pressure), Closed.
  Result<MessageId> propagate_group_update(const DisplayGroupUpdate& update);
  Result<MessageId> propagate_display_sync(const DisplaySync& sync);

  // The version a version-0 update of `id` gets now: one above every version of that id this
  // node has applied or authored (0 when none is left).
  std::uint32_t next_group_version(std::string_view id) const;
  std::uint32_t next_display_version(std::string_view id) const;

  void on_group_update(GroupUpdateHandler handler) { on_group_update_ = std::move(handler); }
  void on_display_sync(DisplaySyncHandler handler) { on_display_sync_ = std::move(handler); }

  // Feed every event polled from the Node. Returns true if the event was a display
  // message (consumed here); other events are the application's.
  bool handle(const Event& event);

  DisplayStateStats stats() const { return store_.stats(); }
  std::vector<DisplaySyncMetrics> metrics() const { return store_.metrics(); }
  const DisplayStateStore& store() const { return store_; }

  // stats() and metrics() as of the last publication, safe to read from any thread. The
  // polling thread publishes from handle() and propagate_*() when something was applied
  // and kPublishInterval has passed since the last publication (stats() sorts the age
  // window, too dear for every update), and whenever it calls publish(). So while events
  // flow the copy is at most kPublishInterval old; an application that stops calling
  // handle() should call publish() once after its last update.
  struct Published {
    DisplayStateStats stats;
    std::vector<DisplaySyncMetrics> metrics;
  };
  static constexpr std::chrono::milliseconds kPublishInterval{100};
  Published published() const;
  void publish();

 private:
  template <class Message>
  Result<MessageId> propagate(Message& outgoing, std::uint32_t next_version);
  void publish_if_due();
  void send_snapshot(NodeId peer);
  SendOptions send_options(std::uint64_t key, bool above_held);

  Node& node_;
  DisplayStateStore store_;
  GroupUpdateHandler on_group_update_;
  DisplaySyncHandler on_display_sync_;
  // The transport's latest-value version of every message this node sends. The display
  // order is (version, author), which does not fit the transport's one 64-bit version, and
  // a node may relay several authors' states of one id; the transport only has to keep one
  // sender's messages in that sender's order, so a per-sender sequence is exactly enough.
  std::uint64_t send_sequence_;
  static constexpr std::uint64_t kBelowEverySequence = 1;
  DisplayGroupUpdate outgoing_update_;  // stamped copies, reused so propagate stops allocating
  DisplaySync outgoing_sync_;
  std::vector<std::uint8_t> scratch_;
  // published(): the copy and its lock (taken by the polling thread once per publication,
  // never per message), and whether anything was applied since the last publication.
  mutable std::mutex published_mutex_;
  Published published_;
  bool unpublished_ = false;
  std::chrono::steady_clock::time_point last_publish_{};
};

// Microseconds since the Unix epoch (the clock DisplayGroupUpdate::timestamp_us uses).
std::uint64_t wall_clock_us();

}  // namespace hana
