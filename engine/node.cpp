// hana::Node's any-thread API: validation, the lock-free send path, events, knobs, stats.
// The loop itself is in event_loop.cpp.
#include <net/if.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <future>
#include <random>

#include <sodium.h>

#include "engine/clock.h"
#include "engine/node_impl.h"
#include "protocol/seal.h"
#include "topology/bodies.h"

namespace hana {

// One log line to the node's LogSink (NodeOptions::log), printf-style.
[[gnu::format(printf, 3, 4)]] void log_line(const LogSink& sink, LogLevel level, const char* format, ...) {
  if (level < sink.level || sink.level == LogLevel::Off) return;
  char line[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(line, sizeof line, format, args);
  va_end(args);
  if (sink.callback) sink.callback(level, line);
  else std::fprintf(stderr, "hana-net: %s\n", line);
}


using engine::Command;
using engine::EngineCounter;

std::string_view to_string(EventKind k) {
  switch (k) {
    case EventKind::Received: return "received";
    case EventKind::Delivered: return "delivered";
    case EventKind::Failed: return "failed";
    case EventKind::PeerConnected: return "peer-connected";
    case EventKind::PeerDisconnected: return "peer-disconnected";
    case EventKind::PeerLeft: return "peer-left";
    case EventKind::PeerSuspect: return "peer-suspect";
    case EventKind::RoleChanged: return "role-changed";
    case EventKind::CongestionChanged: return "congestion-changed";
    case EventKind::LinkQualityChanged: return "link-quality-changed";
    case EventKind::DisplayAvailable: return "display-available";
    case EventKind::DisplayUnavailable: return "display-unavailable";
    case EventKind::ClockSynced: return "clock-synced";
    case EventKind::ClockSyncLost: return "clock-sync-lost";
    case EventKind::JoinRefused: return "join-refused";
  }
  return "?";
}

Payload& Payload::operator=(Payload&& other) noexcept {
  if (this != &other) {
    reset();
    pool_ = other.pool_;
    data_ = other.data_;
    size_ = other.size_;
    slot_ = other.slot_;
    heap_ = other.heap_;
    other.pool_ = nullptr;
    other.data_ = nullptr;
    other.size_ = 0;
    other.slot_ = ~0u;
    other.heap_ = nullptr;
  }
  return *this;
}

void Payload::reset() {
  if (pool_) {
    engine::MessageRef ref{slot_, size_, heap_};
    pool_->release(ref);
  }
  pool_ = nullptr;
  data_ = nullptr;
  size_ = 0;
  slot_ = ~0u;
  heap_ = nullptr;
}

std::uint64_t NodeStats::engine_counter(std::string_view name) const {
  for (const auto& [n, v] : engine)
    if (n == name) return v;
  return 0;
}

Node::Impl::Impl(const Config& c, NodeOptions o)
    : config(c), max_message_bytes(c.max_message_bytes), options(std::move(o)),
      pool(c.message_slots, c.message_slot_bytes), events(c.event_queue_events) {
  for (auto& q : lanes) q = std::make_unique<engine::BoundedQueue<Command>>(c.app_queue_messages);
  self_id = options.node_id;
  if (self_id == 0) {
    std::random_device rd;
    self_id = (std::uint64_t{rd()} << 32) ^ rd() ^ engine::monotonic_now_ns();
    if (self_id == 0) self_id = 1;
  }
  event_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

Node::Impl::~Impl() {
  if (event_fd >= 0) ::close(event_fd);
}

Result<void> Node::Impl::check_send(std::span<const std::uint8_t> bytes, const SendOptions& opts) const {
  if (static_cast<std::size_t>(opts.lane) >= kLaneCount) return Error{Errc::InvalidArgument, "lane out of range"};
  if (static_cast<std::size_t>(opts.delivery) >= kDeliveryCount)
    return Error{Errc::InvalidArgument, "delivery mode out of range"};
  if (!accepting.load(std::memory_order_acquire)) return Error{Errc::Closed, "node is not running"};
  if (bytes.size() > max_message_bytes.load(std::memory_order_relaxed))
    return Error{Errc::MessageTooLarge, "message larger than the max_message_bytes knob"};
  return {};
}

Result<MessageId> Node::Impl::enqueue(Command::Kind kind, NodeId peer, std::span<const std::uint8_t> bytes,
                                      const SendOptions& opts) {
  if (auto r = check_send(bytes, opts); !r) return r.error();
  return enqueue_checked(kind, peer, bytes, opts, next_id.fetch_add(1, std::memory_order_relaxed));
}

Result<MessageId> Node::Impl::enqueue_checked(Command::Kind kind, NodeId peer, std::span<const std::uint8_t> bytes,
                                              const SendOptions& opts, MessageId id) {
  Command cmd;
  cmd.kind = kind;
  cmd.options = opts;
  cmd.peer = peer;
  bool large = false;
  if (!pool.store(bytes.data(), bytes.size(), cmd.message, large)) {
    counters.add(EngineCounter::pool_exhausted);
    counters.add(EngineCounter::queue_full);
    return Error{Errc::QueueFull, "every message buffer is in use (message_slots knob)"};
  }
  if (large) counters.add(EngineCounter::large_message_allocs);
  cmd.id = id;
  if (!lanes[static_cast<std::size_t>(opts.lane)]->try_push(std::move(cmd))) {
    pool.release(cmd.message);
    counters.add(EngineCounter::queue_full);
    return Error{Errc::QueueFull, "lane queue full (app_queue_messages knob)"};
  }
  if (shared) {
    turn_shared(false, true);  // transmits on this thread unless another thread runs the loop
  } else {
    notify();
  }
  return id;
}

Result<void> engine::validate_displays(const std::vector<DisplayInfo>& displays) {
  if (displays.size() > topology::kMaxDisplays) return Error{Errc::InvalidArgument, "at most 8 displays per node"};
  for (std::size_t i = 0; i < displays.size(); ++i) {
    const DisplayInfo& d = displays[i];
    if (d.id.empty() || d.id.size() > topology::kMaxDisplayIdBytes)
      return Error{Errc::InvalidArgument, "display id must be 1..32 bytes"};
    if (d.metadata.size() > topology::kMaxDisplayMetaBytes)
      return Error{Errc::InvalidArgument, "display metadata must be at most 64 bytes"};
    for (std::size_t j = 0; j < i; ++j)
      if (displays[j].id == d.id) return Error{Errc::InvalidArgument, "duplicate display id"};
  }
  return {};
}

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Node::~Node() { stop(); }

Result<std::unique_ptr<Node>> Node::create(const Config& config, NodeOptions options) {
  if (auto r = config.validate(); !r) return r.error();
  if (options.bind.family != 4 && options.bind.family != 6)
    return Error{Errc::InvalidArgument, "NodeOptions.bind must be an IPv4 or IPv6 address"};
  if (options.bind.needs_scope() && options.bind.scope_id == 0)
    return Error{Errc::InvalidArgument, "NodeOptions.bind: a link-local IPv6 address needs its interface as scope_id"};
  for (const auto& s : options.seeds)
    if ((s.family != 4 && s.family != 6) || s.port == 0)
      return Error{Errc::InvalidArgument, "NodeOptions.seeds: each seed needs an IPv4/IPv6 address and a port"};
  std::optional<engine::DiscoveryPlan> discovery;
  if (options.beacon_target) {
    auto plan = engine::plan_discovery(options.bind, *options.beacon_target, options.beacon_interface);
    if (!plan) return plan.error();
    discovery = *plan;
  } else if (!options.beacon_interface.empty()) {
    return Error{Errc::InvalidArgument, "NodeOptions.beacon_interface is set but beacon_target is not"};
  }
  if (auto r = engine::validate_displays(options.displays); !r)
    return Error{r.error().code, "NodeOptions.displays: at most 8, ids 1..32 bytes and unique, metadata up to 64 bytes"};
  if (!options.keys.empty())
    if (auto sealer = protocol::Sealer::create(options.keys); !sealer)
      return Error{sealer.error().code, "NodeOptions.keys: at most 2 distinct keys (the first seals, all are accepted)"};
  if (config.message_slot_bytes > config.max_message_bytes && config.max_message_bytes < 64)
    return Error{Errc::InvalidArgument, "max_message_bytes below 64 makes message_slot_bytes meaningless"};
  auto impl = std::make_unique<Impl>(config, std::move(options));
  if (impl->event_fd < 0) return Error{Errc::Unavailable, "eventfd failed"};
  impl->discovery = discovery;
  return std::unique_ptr<Node>(new Node(std::move(impl)));
}

// The TCP path listens at the UDP socket's own address and port. Best effort like
// discovery: when the port is taken for TCP, the node runs UDP only and says so.
void Node::Impl::open_tcp() {
  if (!loop_config.tcp_listen) return;
  auto l = engine::TcpListener::open(socket.local_address());
  Result<void> added = l ? backend->add_stream_listener(l->fd(), socket.local_address(), engine::TcpOptions::from(loop_config))
                         : Result<void>(l.error());
  if (added) {
    tcp_listener = std::move(*l);
    log_line(options.log, LogLevel::Debug, "TCP path: listening on %s", socket.local_address().to_string().c_str());
    return;
  }
  log_line(options.log, LogLevel::Warning, "TCP path disabled: %s", added.error().message);
}

// Multicast/broadcast beacons need a socket on the group port: without it nothing hears
// them. Discovery is best effort: on failure the node runs on seeds alone.
void Node::Impl::open_discovery() {
  if (!discovery) return;
  auto s = engine::UdpSocket::open_beacon_receiver(socket, *discovery);
  Result<void> added = s ? backend->add_receive_socket(s->fd()) : Result<void>(s.error());
  if (added) {
    beacon_socket = std::move(*s);
    {
      char name[IF_NAMESIZE] = "?";
      const char* interface = discovery->kind == engine::BeaconKind::Broadcast ? "(broadcast)"
                              : discovery->ifindex == 0                          ? "chosen by the kernel"
                              : ::if_indextoname(discovery->ifindex, name)       ? name
                                                                                 : "?";
      log_line(options.log, LogLevel::Info, "discovery: beacons to %s, interface %s",
               discovery->target.to_string().c_str(), interface);
    }
    return;
  }
  log_line(options.log, LogLevel::Warning, "discovery on %s disabled: %s",
           options.beacon_target->to_string().c_str(), added.error().message);
}

// With keys, what the mesh seals with: a salt of this run's own (random, so two runs of
// the node never share a nonce) and the wall clock's offset for the freshness check.
Result<topology::Sealing> Node::Impl::sealing() const {
  topology::Sealing s;
  if (options.keys.empty()) return s;
  auto sealer = protocol::Sealer::create(options.keys);  // validated in Node::create
  if (!sealer) return sealer.error();  // never run unsealed when keys were given
  s.sealer = std::move(*sealer);
  randombytes_buf(s.salt.data(), s.salt.size());
  s.wall_offset_ns = engine::wall_offset_ns();
  return s;
}

Result<void> Node::Impl::init_on_this_thread() {
  const engine::BackendOptions bo = engine::BackendOptions::from(loop_config);
  Result<std::unique_ptr<engine::Backend>> b = Error{Errc::Internal, ""};
  // Shared threading needs a backend any thread can drive: Auto means epoll there.
  const bool want_shared = options.threading == Threading::Shared;
  if (options.backend == IoBackend::Epoll || (want_shared && options.backend == IoBackend::Auto)) {
    b = engine::make_epoll_backend(socket, bo, counters);
  } else {
    b = engine::make_uring_backend(socket, bo, counters);
    if (!b && options.backend == IoBackend::Auto) {
      log_line(options.log, LogLevel::Warning, "%s; falling back to epoll", b.error().message);
      b = engine::make_epoll_backend(socket, bo, counters);
    }
  }
  if (!b) return b.error();
  actual_backend = (*b)->kind() == engine::BackendKind::Uring ? IoBackend::Uring : IoBackend::Epoll;
  auto injector = std::make_unique<engine::FaultInjector>(std::move(*b), loop_config.fault_seed,
                                                          loop_config.fault_queue_datagrams,
                                                          loop_config.max_datagram_bytes, counters);
  injector->set_params(engine::FaultParams::from(loop_config));
  fault = injector.get();
  backend = std::move(injector);
  backend_for_wake = backend.get();
  shared = want_shared && backend->shared_capable();
  open_discovery();
  open_tcp();
  topology::Identity self;
  self.id = self_id;
  self.name = options.name;
  self.listen = socket.local_address();
  self.coordinator_eligible = options.coordinator_eligible;
  for (const auto& d : options.displays) self.displays.push_back(topology::Display{d.id, d.available, d.metadata});
  const TimeNs now = engine::monotonic_now_ns();
  const std::uint64_t seed = options.seed ? options.seed : (now ^ self_id);
  auto sealed = sealing();
  if (!sealed) return sealed.error();
  mesh = std::make_unique<topology::Mesh>(loop_config, std::move(self), seed, now, std::move(*sealed));
  mesh_time.set_shift(mesh->clock_shift());
  mesh->set_beacon_target(discovery ? std::optional<Address>(discovery->target) : std::nullopt);
  for (const auto& s : options.seeds) (void)mesh->add_seed(s, now);
  loop = engine::make_loop(*this);
  // One start line, which also says whether the mesh is sealed (docs/security.md).
  char keys[96];
  if (options.keys.empty())
    std::snprintf(keys, sizeof keys, "mesh UNAUTHENTICATED (no pre-shared key; see docs/security.md)");
  else
    std::snprintf(keys, sizeof keys, "mesh sealed (key id %08x sends, %zu key(s) accepted)",
                  protocol::key_id_of(options.keys[0]), options.keys.size());
  // The address stays last: tools read it from the end of the line.
  log_line(options.log, LogLevel::Info, "node %016llx on %s (%s threading), %s, udp %s",
                 static_cast<unsigned long long>(self_id), actual_backend == IoBackend::Uring ? "io_uring" : "epoll",
                 shared ? "shared" : inline_mode() ? "inline" : "dedicated", keys,
                 socket.local_address().to_string().c_str());
  running.store(true);
  accepting.store(true, std::memory_order_release);
  return {};
}

Result<void> Node::start() {
  Impl& m = *impl_;
  if (m.running.load()) return Error{Errc::InvalidArgument, "node already started"};
  if (m.stop_requested.load()) return Error{Errc::InvalidArgument, "a stopped node cannot be restarted; create a new one"};
  Config c;
  {
    std::lock_guard lock(m.config_mutex);
    c = m.config;
  }
  auto sock = engine::UdpSocket::open(
      engine::SocketOptions{m.options.bind, c.socket_rcvbuf_bytes, c.socket_sndbuf_bytes, c.ip_recverr,
                            c.rx_timestamps});
  if (!sock) return sock.error();
  m.socket = std::move(*sock);
  m.loop_config = c;
  m.publish_loop_config();
  if (m.inline_mode()) return m.init_on_this_thread();
  // The io_uring ring is single-issuer: create it on the loop thread itself.
  std::promise<Result<void>> ready;
  auto ready_future = ready.get_future();
  m.thread = std::thread([&m, &ready] {
    Result<void> r = m.init_on_this_thread();
    const bool ok = r.ok();
    ready.set_value(r);
    if (!ok) return;
    if (m.shared) {
      m.run_standby();
      return;
    }
    while (m.drive(engine::kNoDeadline)) {
    }
  });
  Result<void> r = ready_future.get();
  if (!r) {
    m.thread.join();
    return r;
  }
  return {};
}

void Node::stop() {
  Impl& m = *impl_;
  if (!m.running.load()) return;
  m.accepting.store(false, std::memory_order_release);
  m.stop_requested.store(true);
  if (m.inline_mode()) {
    // Bounded by stop_flush_ms: the loop finishes by then at the latest.
    while (m.drive(engine::kNoDeadline)) {
    }
  } else if (m.shared) {
    m.backend_for_wake->kick_standby();  // the standby finishes the loop (bounded by stop_flush_ms)
    m.thread.join();
  } else {
    m.wake_always();
    m.thread.join();
  }
  m.running.store(false);
  m.stats_cv.notify_all();
}

bool Node::running() const { return impl_->running.load(); }
MeshTime Node::mesh_time_ns() const { return impl_->mesh_time.read(engine::monotonic_now_ns()); }

NodeId Node::id() const { return impl_->self_id; }
Address Node::local_address() const { return impl_->socket.local_address(); }
IoBackend Node::backend() const { return impl_->actual_backend; }

Result<void> Node::connect(const Address& peer) {
  if ((peer.family != 4 && peer.family != 6) || peer.port == 0)
    return Error{Errc::InvalidArgument, "connect: address needs IPv4/IPv6 and a port"};
  if (!impl_->accepting.load()) return Error{Errc::Closed, "node is not running"};
  engine::Control c;
  c.address = peer;
  if (!impl_->control.try_push(std::move(c))) return Error{Errc::QueueFull, "control queue full"};
  impl_->kick();
  return {};
}

Result<void> Node::set_displays(std::vector<DisplayInfo> displays) {
  if (auto r = engine::validate_displays(displays); !r) return r;
  if (!impl_->accepting.load()) return Error{Errc::Closed, "node is not running"};
  engine::Control c;
  c.kind = engine::Control::Kind::SetDisplays;
  c.displays = std::move(displays);
  if (!impl_->control.try_push(std::move(c))) return Error{Errc::QueueFull, "control queue full"};
  impl_->kick();
  return {};
}

Result<MessageId> Node::send(NodeId peer, Lane lane, std::span<const std::uint8_t> bytes, Delivery delivery) {
  SendOptions o;
  o.lane = lane;
  o.delivery = delivery;
  return impl_->send_any(Command::Kind::Send, peer, bytes, o);
}

Result<MessageId> Node::send(NodeId peer, std::span<const std::uint8_t> bytes, const SendOptions& options) {
  return impl_->send_any(Command::Kind::Send, peer, bytes, options);
}

Result<MessageId> Node::broadcast(Lane lane, std::span<const std::uint8_t> bytes, Delivery delivery) {
  SendOptions o;
  o.lane = lane;
  o.delivery = delivery;
  return impl_->send_any(Command::Kind::Broadcast, 0, bytes, o);
}

Result<MessageId> Node::broadcast(std::span<const std::uint8_t> bytes, const SendOptions& options) {
  return impl_->send_any(Command::Kind::Broadcast, 0, bytes, options);
}

void Node::flush() {
  Impl& m = *impl_;
  if (!m.running.load()) return;
  if (m.shared) {
    if (m.work_pending.load() || !m.lanes_empty()) m.turn_shared(false, true);
  } else {
    m.notify();
  }
}

bool Node::poll_event(Event& out) {
  Impl& m = *impl_;
  if (m.events.try_pop(out)) return true;
  if (!m.running.load()) return false;
  if (m.shared) {
    // An application that drains with poll_event after each event (the usual loop) would
    // otherwise run a turn per drain that finds nothing (~1.4k instructions, callgrind).
    if (m.turn_would_idle(engine::monotonic_now_ns(), /*before_block=*/false)) return false;
    m.turn_shared(false, true);
    return m.events.try_pop(out);
  }
  if (m.inline_mode()) {
    (void)m.drive(0);
    return m.events.try_pop(out);
  }
  return false;
}

bool Node::wait_event(Event& out, TimeNs timeout_ns) {
  Impl& m = *impl_;
  if (m.events.try_pop(out)) return true;
  const TimeNs deadline = engine::monotonic_now_ns() + timeout_ns;
  if (m.shared && m.running.load()) return m.wait_event_shared(out, deadline);
  if (m.inline_mode()) {
    // This thread is the loop: turn it until an event is queued or the deadline passes.
    for (long turns = 0; turns < (1L << 40); ++turns) {
      if (m.events.try_pop(out)) return true;
      if (!m.running.load() || engine::monotonic_now_ns() >= deadline) return false;
      if (!m.drive(deadline)) return m.events.try_pop(out);
    }
    return false;
  }
  m.event_waiters.fetch_add(1);
  bool got = false;
  // Bounded by the deadline; each round sleeps in poll() until the loop signals.
  for (;;) {
    if (m.events.try_pop(out)) {
      got = true;
      break;
    }
    const TimeNs now = engine::monotonic_now_ns();
    if (now >= deadline) break;
    pollfd p{m.event_fd, POLLIN, 0};
    const TimeNs left = deadline - now;
    timespec ts{static_cast<time_t>(left / kNsPerSec), static_cast<long>(left % kNsPerSec)};
    if (::ppoll(&p, 1, &ts, nullptr) > 0) {
      std::uint64_t v;
      (void)!::read(m.event_fd, &v, sizeof v);
    }
  }
  m.event_waiters.fetch_sub(1);
  return got;
}

NodeStats Node::stats() const {
  Impl& m = *impl_;
  if (m.inline_mode() && m.running.load() && !m.loop_finished) {
    m.loop->publish_stats();  // we are the loop thread
    std::lock_guard lock(m.stats_mutex);
    return m.stats_snapshot;
  }
  if (m.shared && m.running.load()) {
    {
      std::lock_guard loop_lock(m.loop_mutex);  // take the loop for the snapshot
      if (!m.loop_finished) m.loop->publish_stats();
    }
    std::lock_guard lock(m.stats_mutex);
    return m.stats_snapshot;
  }
  std::unique_lock lock(m.stats_mutex);
  if (m.running.load() && m.backend_for_wake) {
    const std::uint64_t gen = m.stats_generation;
    m.stats_wanted.store(true);
    m.backend_for_wake->wake();
    m.stats_cv.wait_for(lock, std::chrono::seconds(1), [&] { return m.stats_generation != gen || !m.running.load(); });
  }
  return m.stats_snapshot;
}

Result<void> Node::set(std::string_view knob, std::string_view value) {
  Impl& m = *impl_;
  const KnobInfo* info = Config::find(knob);
  if (!info) return Error{Errc::InvalidArgument, "unknown knob name"};
  // Sizes of pools and queues are fixed when the node is created: only runtime knobs here.
  if (!info->runtime)
    return Error{Errc::InvalidArgument, "not runtime-changeable (set it in the Config given to Node::create, or --config)"};
  std::lock_guard lock(m.config_mutex);
  Config copy = m.config;
  if (auto r = copy.set(knob, value); !r) return r;
  if (auto r = copy.validate(); !r) return r;  // the cross-knob rules (knobs.def)
  m.config = copy;
  m.max_message_bytes.store(copy.max_message_bytes);
  m.config_dirty.store(true);
  if (m.shared) {
    // Not kick(): that would take the loop while this thread holds config_mutex, and
    // the loop's apply_config takes config_mutex (lock order: loop, then config).
    m.work_pending.store(true);
    m.backend_for_wake->kick_standby();
  } else {
    m.wake_always();
  }
  return {};
}

Result<std::string> Node::get(std::string_view knob) const {
  std::lock_guard lock(impl_->config_mutex);
  return impl_->config.get(knob);
}

}  // namespace hana
