#include "hana/display_state.h"

#include <chrono>

namespace hana {

std::uint64_t wall_clock_us() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

DisplayState::DisplayState(Node& node) : node_(node) { scratch_.resize(kMaxDisplaySyncBytes); }

namespace {

SendOptions latest_value_options(std::uint64_t key, std::uint32_t version) {
  SendOptions o;
  o.lane = Lane::High;
  o.delivery = Delivery::ReliableUnordered;  // versions order themselves; no head-of-line wait
  o.latest_value = true;
  o.key = key;
  o.version = version;
  return o;
}

}  // namespace

template <class Message>
Result<MessageId> DisplayState::propagate(const Message& message, DisplayMessageType type, const std::string& id,
                                          std::uint32_t version) {
  auto size = encode_display_message(message, scratch_);
  if (!size.ok()) return size.error();
  const std::uint64_t key = display_key(type, id);
  const std::span<const std::uint8_t> body{scratch_.data(), *size};
  auto sent = node_.broadcast(body, latest_value_options(key, version));
  if (!sent.ok()) return sent.error();
  // Remember it for late joiners, and apply it locally so this node's view is complete too.
  Authored& a = authored_[id];
  a.key = key;
  a.version = version;
  a.body.assign(body.begin(), body.end());
  store_.apply(message, wall_clock_us());
  return sent;
}

Result<MessageId> DisplayState::propagate_group_update(const DisplayGroupUpdate& update) {
  return propagate(update, DisplayMessageType::GroupUpdate, update.group_id, update.version);
}

Result<MessageId> DisplayState::propagate_display_sync(const DisplaySync& sync) {
  return propagate(sync, DisplayMessageType::DisplaySync, sync.display_id, sync.version);
}

void DisplayState::send_snapshot(NodeId peer) {
  for (const auto& [id, a] : authored_) {
    // Best effort: a full queue here is reported by the next propagate; the peer also
    // receives every later version.
    (void)node_.send(peer, a.body, latest_value_options(a.key, a.version));
  }
}

bool DisplayState::handle(const Event& event) {
  if (event.kind == EventKind::PeerConnected) {
    send_snapshot(event.peer);
    return false;  // the application may want it too
  }
  if (event.kind != EventKind::Received || !event.latest_value || event.lane != Lane::High) return false;
  DisplayMessageType type{};
  if (!peek_display_message_type(event.payload.bytes(), type)) return false;
  if (store_.apply(event.payload.bytes(), wall_clock_us()) != DisplayStateStore::Outcome::Applied) return true;
  if (store_.last_type() == DisplayMessageType::GroupUpdate) {
    if (on_group_update_) on_group_update_(store_.last_group_update(), event.peer);
  } else if (on_display_sync_) {
    on_display_sync_(store_.last_display_sync(), event.peer);
  }
  return true;
}

}  // namespace hana
