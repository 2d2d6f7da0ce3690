#include "hana/display_state.h"

#include <chrono>
#include <limits>

namespace hana {

std::uint64_t wall_clock_us() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

std::uint64_t DisplayState::mesh_time_us() const { return node_.mesh_time_ns().ns / kNsPerUs; }

// The sequence starts at the wall clock so that a restarted node's messages sort after its
// previous incarnation's in any receive table a peer kept (sends are far rarer than 1/µs),
// and far above kBelowEverySequence.
DisplayState::DisplayState(Node& node) : node_(node), send_sequence_(wall_clock_us()) {
  scratch_.resize(kMaxDisplaySyncBytes);
}

namespace {

const std::string& id_of(const DisplayGroupUpdate& u) { return u.group_id; }
const std::string& id_of(const DisplaySync& s) { return s.display_id; }
DisplayMessageType type_of(const DisplayGroupUpdate&) { return DisplayMessageType::GroupUpdate; }
DisplayMessageType type_of(const DisplaySync&) { return DisplayMessageType::DisplaySync; }
const DisplayGroupUpdate* held_of(const DisplayStateStore& s, const DisplayGroupUpdate& u) { return s.group(u.group_id); }
const DisplaySync* held_of(const DisplayStateStore& s, const DisplaySync& d) { return s.display(d.display_id); }

// One above the held version; 0 (none left) once the 32-bit space is used up.
std::uint32_t after(const auto* held) {
  if (!held) return 1;
  return held->version == std::numeric_limits<std::uint32_t>::max() ? 0 : held->version + 1;
}

}  // namespace

// The store holds the highest stamp of every id this node applied, and a node applies what
// it authors, so "above the held version" is above everything applied or authored here.
std::uint32_t DisplayState::next_group_version(std::string_view id) const { return after(store_.group(id)); }
std::uint32_t DisplayState::next_display_version(std::string_view id) const { return after(store_.display(id)); }

SendOptions DisplayState::send_options(std::uint64_t key, bool above_held) {
  SendOptions o;
  o.lane = Lane::High;
  o.delivery = Delivery::ReliableUnordered;  // stamps order themselves; no head-of-line wait
  o.latest_value = true;
  o.key = key;
  // A state below what this node holds goes out below every sequence number: the transport
  // drops it as stale (at the sender if a newer one is still queued, else at the receiver),
  // so it can never replace a newer state still waiting in a queue.
  o.version = above_held ? ++send_sequence_ : kBelowEverySequence;
  return o;
}

template <class Message>
Result<MessageId> DisplayState::propagate(Message& outgoing, std::uint32_t next_version) {
  outgoing.author = node_.id();
  if (outgoing.timestamp_us == 0) outgoing.timestamp_us = mesh_time_us();  // stamped here if the caller did not
  if (outgoing.version == 0) {
    if (next_version == 0) return Error{Errc::InvalidArgument, "every 32-bit version of this id is used"};
    outgoing.version = next_version;
  }
  auto size = encode_display_message(outgoing, scratch_);
  if (!size.ok()) return size.error();
  const std::span<const std::uint8_t> body{scratch_.data(), *size};
  const auto* held = held_of(store_, outgoing);
  const bool above_held = !held || stamp_of(outgoing) > stamp_of(*held);
  auto sent = node_.broadcast(body, send_options(display_key(type_of(outgoing), id_of(outgoing)), above_held));
  if (!sent.ok()) return sent.error();
  // Applied locally too: this node's view is complete, it answers joiners with it, and its
  // next auto version is above it.
  store_.apply(outgoing, mesh_time_us());
  unpublished_ = true;
  publish_if_due();
  return sent;
}

DisplayState::Published DisplayState::published() const {
  std::lock_guard lock(published_mutex_);
  return published_;
}

void DisplayState::publish() {
  Published fresh{store_.stats(), store_.metrics()};  // computed outside the lock
  std::lock_guard lock(published_mutex_);
  published_ = std::move(fresh);
  unpublished_ = false;
  last_publish_ = std::chrono::steady_clock::now();
}

void DisplayState::publish_if_due() {
  if (unpublished_ && std::chrono::steady_clock::now() - last_publish_ >= kPublishInterval) publish();
}

Result<MessageId> DisplayState::propagate_group_update(const DisplayGroupUpdate& update) {
  outgoing_update_ = update;
  return propagate(outgoing_update_, next_group_version(update.group_id));
}

Result<MessageId> DisplayState::propagate_display_sync(const DisplaySync& sync) {
  outgoing_sync_ = sync;
  return propagate(outgoing_sync_, next_display_version(sync.display_id));
}

void DisplayState::send_snapshot(NodeId peer) {
  store_.for_each([&](const auto& held) {
    auto size = encode_display_message(held, scratch_);
    if (!size.ok()) return;  // cannot happen: it decoded or was encoded before
    // Best effort: a full queue here is reported by the next propagate; the peer also
    // receives every later version, and every other member sends it the same state.
    (void)node_.send(peer, {scratch_.data(), *size}, send_options(display_key(type_of(held), id_of(held)), true));
  });
}

bool DisplayState::handle(const Event& event) {
  if (event.kind == EventKind::PeerConnected) {
    send_snapshot(event.peer);
    return false;  // the application may want it too
  }
  if (event.kind != EventKind::Received || !event.latest_value || event.lane != Lane::High) {
    publish_if_due();
    return false;
  }
  DisplayMessageType type{};
  if (!peek_display_message_type(event.payload.bytes(), type)) return false;
  unpublished_ = true;  // stale and malformed ones are counted too
  const auto outcome = store_.apply(event.payload.bytes(), mesh_time_us());
  publish_if_due();
  if (outcome != DisplayStateStore::Outcome::Applied) return true;
  if (store_.last_type() == DisplayMessageType::GroupUpdate) {
    if (on_group_update_) on_group_update_(store_.last_group_update(), event.peer);
  } else if (on_display_sync_) {
    on_display_sync_(store_.last_display_sync(), event.peer);
  }
  return true;
}

}  // namespace hana
