// hana::Node: one member of a hana-net mesh on a real UDP socket.
//
// Threads: start() runs one event-loop thread that owns the socket and the mesh.
// send()/broadcast()/connect()/set() may be called from ANY thread: they copy the
// message into a pooled buffer and push it onto a bounded lock-free per-lane queue
// (no locks, no allocation once warmed up); a full queue answers Errc::QueueFull.
//
// Events (our choice: a poll API, no callbacks): the loop queues them; any thread takes
// them with poll_event() (never blocks) or wait_event() (blocks up to a timeout). No
// callback runs on the loop thread, so application code can never stall the network.
// An event's payload lives in a pooled buffer returned when the Event is destroyed or
// overwritten: keep events short-lived, and never past the Node.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hana/address.h"
#include "hana/config.h"
#include "hana/events.h"
#include "hana/result.h"
#include "hana/stats.h"
#include "hana/types.h"

namespace hana {

namespace engine {
class MessagePool;
}

enum class IoBackend : std::uint8_t { Auto, Uring, Epoll };
constexpr std::string_view to_string(IoBackend b) {
  return b == IoBackend::Uring ? "uring" : b == IoBackend::Epoll ? "epoll" : "auto";
}

struct DisplayInfo {
  std::string id;
  bool available = true;
  std::string metadata;  // opaque, e.g. "3840x2160@60"
};

// Who runs the event loop.
//  - Shared (default): the loop is a role, not a thread. Whichever thread is awake runs
//    it: send() transmits on the caller's thread when the loop is free, a thread blocked
//    in wait_event() receives its own messages, and the node's own thread turns the loop
//    whenever no application thread does (timers and failure detection never depend on
//    the application calling in). No thread hand-off on a round trip. Any thread may call
//    everything. Needs the epoll backend (io_uring completions belong to the thread that
//    submitted them, so a ring cannot follow the role): backend Auto picks epoll; an
//    explicit Uring runs as Dedicated.
//  - Dedicated: a thread of the node's own runs the loop, application threads hand it
//    their messages through the queues (four thread wake-ups per round trip).
//  - Inline (Aeron's "invoker" mode): no extra thread; the thread that called start()
//    runs the loop inside poll_event()/wait_event()/stats()/stop(), and must be the only
//    one calling them. send()/broadcast()/connect()/set() still work from any thread.
enum class Threading : std::uint8_t { Shared, Dedicated, Inline };
constexpr std::string_view to_string(Threading t) {
  return t == Threading::Shared ? "shared" : t == Threading::Dedicated ? "dedicated" : "inline";
}

enum class LogLevel : std::uint8_t { Debug, Info, Warning, Error, Off };
constexpr std::string_view to_string(LogLevel l) {
  return l == LogLevel::Debug     ? "debug"
         : l == LogLevel::Info    ? "info"
         : l == LogLevel::Warning ? "warning"
         : l == LogLevel::Error   ? "error"
                                  : "off";
}

// Where a node's few log lines go: at start, which backend and threading run and where
// discovery beacons go (Info); a fallback or a disabled feature (Warning).
struct LogSink {
  LogLevel level = LogLevel::Info;  // lines below it are not produced; Off: none
  // Receives each line (no trailing newline). Empty: stderr, as "hana-net: <line>". It runs
  // on the thread that starts the node or turns its loop: keep it short, and never call
  // the Node from it.
  std::function<void(LogLevel, std::string_view)> callback;
};

// Node settings that are not numeric knobs (those live in hana::Config).
struct NodeOptions {
  Address bind = Address::ipv4(0, 0, 0, 0, 0);  // port 0 = the kernel picks one
  NodeId node_id = 0;                           // 0 = random
  std::string name;
  // Discovery: beacons to an IPv4/IPv6 multicast group or an IPv4 subnet broadcast address
  // (same IP family as `bind`); unset = none.
  std::optional<Address> beacon_target;
  // Interface for the group: a name ("eth0"), an index ("3") or an address it has
  // ("10.0.0.1"); empty = the kernel's choice (a link-local bind address's own interface
  // for IPv6). Link-local IPv6 groups (ff02::/16) need one.
  std::string beacon_interface;
  std::vector<Address> seeds;                   // connected at start()
  std::vector<DisplayInfo> displays;
  bool coordinator_eligible = true;
  IoBackend backend = IoBackend::Auto;          // Auto: io_uring, epoll when io_uring is unavailable
  Threading threading = Threading::Shared;
  std::uint64_t seed = 0;                       // mesh PRNG seed; 0 = from the clock
  // Pre-shared keys (docs/security.md): with any, every datagram is sealed and only peers
  // holding one of them are heard. keys[0] seals; all (at most 2, distinct) are accepted,
  // for rotation. Empty: the mesh is unauthenticated (logged at start).
  std::vector<PresharedKey> keys;
  LogSink log;                                  // default: Info and up to stderr
};

enum class EventKind : std::uint8_t {
  Received,           // peer, lane, delivery, latest_value/key/version, payload()
  Delivered,          // peer, id, lane: every fragment acknowledged
  Failed,             // peer, id, lane, reason
  PeerConnected,      // peer, address
  PeerDisconnected,   // peer: declared dead by the failure detector
  PeerLeft,           // peer: left gracefully
  PeerSuspect,        // peer: suspected (not yet dead)
  RoleChanged,        // peer (the node concerned), role, term
  CongestionChanged,  // peer, in_recovery, cwnd_bytes
  LinkQualityChanged, // peer, link, observer (id() for this node's own measurement, else the reporting member)
  DisplayAvailable,   // peer (the display's owner), display (id, metadata; available = true)
  DisplayUnavailable, // peer, display: announced unavailable or removed, or its owner is Dead/Left
  ClockSynced,        // peer (the coordinator): mesh_time_ns() follows the coordinator's timebase (again)
  ClockSyncLost,      // peer (the coordinator, 0 = none): no usable estimate of it for 2 s; mesh time free-runs
  JoinRefused,        // peer (0 if not known yet), address, reason (PeerLimit): a node we dialed
                      // refused us; we stay out of its mesh and do not claim the role alone
};
std::string_view to_string(EventKind k);

// A received message's bytes, in a pooled buffer.
class Payload {
 public:
  Payload() = default;
  Payload(Payload&& other) noexcept { *this = std::move(other); }
  Payload& operator=(Payload&& other) noexcept;
  Payload(const Payload&) = delete;
  Payload& operator=(const Payload&) = delete;
  ~Payload() { reset(); }
  std::span<const std::uint8_t> bytes() const { return {data_, size_}; }
  void reset();

 private:
  friend struct PayloadAccess;
  engine::MessagePool* pool_ = nullptr;
  const std::uint8_t* data_ = nullptr;
  std::uint32_t size_ = 0;
  std::uint32_t slot_ = ~0u;
  std::uint8_t* heap_ = nullptr;
};

struct Event {
  EventKind kind = EventKind::Received;
  NodeId peer = 0;
  MessageId id = 0;
  Lane lane = Lane::Normal;
  Delivery delivery = Delivery::ReliableOrdered;
  FailReason reason = FailReason::Closed;
  bool latest_value = false;
  std::uint64_t key = 0;
  std::uint64_t version = 0;
  Address address;
  Role role = Role::Member;
  std::uint64_t term = 0;
  bool in_recovery = false;
  std::uint64_t cwnd_bytes = 0;
  LinkQuality link;
  NodeId observer = 0;  // LinkQualityChanged: who measured `link` to `peer`
  DisplayInfo display;  // DisplayAvailable/DisplayUnavailable only (empty strings otherwise: no allocation)
  Payload payload;
};

// One link of the mesh-wide picture (NodeStats::links): `observer` measured `quality` to `peer`.
struct LinkReport {
  NodeId observer = 0;       // this node (its own measurement) or the member that reported it
  NodeId peer = 0;
  LinkQuality quality;
  std::uint64_t age_ms = 0;  // since the report arrived (own measurements: since it last changed)
};

// What carries a peer's datagrams: UDP, or one TCP stream (the TCP path, docs/connection.md).
enum class Transport : std::uint8_t { Udp, Tcp };
constexpr std::string_view to_string(Transport t) { return t == Transport::Tcp ? "tcp" : "udp"; }

struct PeerStats {
  NodeId peer = 0;
  std::string name;
  Address address;
  MemberState state = MemberState::Alive;
  Role role = Role::Member;
  bool connected = false;
  Transport transport = Transport::Udp;
  std::uint64_t incarnation = 0;
  LinkQuality link;                  // as this node measures it (topology's link-quality record)
  std::vector<DisplayInfo> displays; // as the peer announced them
  ConnectionStats connection;  // zero when not connected
  // Mesh clock: the peer's clock minus this node's, and a bound on the estimate's error
  // (|true offset - clock_offset_ns| <= clock_error_ns). clock_error_ns == 0: no estimate yet.
  std::int64_t clock_offset_ns = 0;
  std::uint64_t clock_error_ns = 0;
};

// Mesh time (Node::mesh_time_ns): nanoseconds in the coordinator's timebase, monotonic on
// each node, with a bound on the distance to the coordinator's mesh time at that instant.
// Before the node's first sync (synced false) it is the node's own clock.
struct MeshTime {
  TimeNs ns = 0;
  std::uint64_t error_ns = 0;
  bool synced = false;
};

struct NodeStats {
  NodeId self = 0;
  MeshTime mesh_time;                // when the snapshot was taken
  std::string name;                  // NodeOptions::name
  std::string backend;               // "uring" or "epoll"
  Address local_address;
  std::optional<NodeId> coordinator;
  std::uint64_t term = 0;
  std::array<LaneStats, kLaneCount> lanes{};                 // summed over peers
  std::array<std::uint64_t, kLaneCount> app_queue_depth{};   // messages waiting for the loop
  std::uint64_t event_queue_depth = 0;
  std::vector<std::pair<std::string_view, std::uint64_t>> engine;  // engine counters by name
  MeshStats mesh;                    // the mesh's own counters (suspicions, probes, bad cookies, ...)
  std::vector<PeerStats> peers;
  std::vector<LinkReport> links;  // the mesh-wide link picture, this node's own links included
  std::uint64_t engine_counter(std::string_view name) const;
};

class Node {
 public:
  // Validates the config (range of every knob) and options; a bad value gives a clear error.
  static Result<std::unique_ptr<Node>> create(const Config& config, NodeOptions options = {});
  ~Node();  // stops if running
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Binds the socket and starts the loop thread.
  Result<void> start();
  // Stops accepting sends, lets pending reliable messages be delivered for up to the
  // stop_flush_ms knob, then leaves the mesh: whatever is still pending fails with
  // FailReason::Closed (those events stay readable with poll_event()).
  void stop();
  bool running() const;

  NodeId id() const;
  Address local_address() const;  // valid after start()
  IoBackend backend() const;      // the backend actually running (after start())

  // Adds a static peer; PeerConnected follows when the handshake completes.
  Result<void> connect(const Address& peer);
  // Any thread. Errors: InvalidArgument, MessageTooLarge, QueueFull, Closed.
  Result<MessageId> send(NodeId peer, Lane lane, std::span<const std::uint8_t> bytes,
                         Delivery delivery = Delivery::ReliableOrdered);
  Result<MessageId> send(NodeId peer, std::span<const std::uint8_t> bytes, const SendOptions& options);
  // To every connected peer, one id; Delivered/Failed come per peer (none when no peer is connected).
  Result<MessageId> broadcast(Lane lane, std::span<const std::uint8_t> bytes,
                              Delivery delivery = Delivery::ReliableOrdered);
  // Same, with latest-value options (key/version coalescing per connection).
  Result<MessageId> broadcast(std::span<const std::uint8_t> bytes, const SendOptions& options);
  // Transmits what sends with SendOptions::more queued (any thread; nothing to do: returns
  // at once). Runs the loop's turn on this thread when it is free, as send() does.
  void flush();

  bool poll_event(Event& out);
  bool wait_event(Event& out, TimeNs timeout_ns);

  // A snapshot taken by the loop (waits for it; up to ~1 s).
  NodeStats stats() const;
  // Mesh time now (any thread; no call into the loop, no allocation). Never goes backwards
  // between calls on one Node. docs/api.md, "Mesh time".
  MeshTime mesh_time_ns() const;
  // Replaces the displays this node announces (any thread; applied by the loop, then
  // gossiped to every peer, which report DisplayAvailable/DisplayUnavailable for each
  // change; this node gets no events for its own displays). Errors: InvalidArgument
  // (more than 8 displays, an id empty or over 32 bytes, metadata over 64 bytes, a
  // duplicate id), QueueFull, Closed.
  Result<void> set_displays(std::vector<DisplayInfo> displays);
  // Runtime knob change, validated (range, and only knobs marked runtime while running).
  Result<void> set(std::string_view knob, std::string_view value);
  Result<std::string> get(std::string_view knob) const;

  struct Impl;

 private:
  explicit Node(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hana
