// The event loop of one node (Aeron duty-cycle style): read the clock once per turn,
// take application commands by lane priority, feed the mesh, transmit, hand events to
// the application, then wait in the backend until the next deadline or a wake-up.
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <type_traits>
#include <variant>

#include "engine/clock.h"
#include "engine/node_impl.h"
#include "topology/mesh_stats.h"

namespace hana {

using engine::Command;
using engine::EngineCounter;
using engine::kNoDeadline;
using protocol::Bytes;
using protocol::MutableBytes;

namespace {

constexpr int kCommandsPerTurn = 1024;     // per turn, all lanes: bounds one turn's latency
constexpr int kTransmitsPerTurn = 1024;
constexpr TimeNs kStopRecheckNs = 1 * kNsPerMs;

using topology::fail_reason_of;  // the one mapping, shared with Mesh::broadcast

class Loop final : public engine::ReceiveSink, public engine::LoopDriver {
 public:
  explicit Loop(Node::Impl& m) : m_(m) { unpinned_.reserve(2 * std::size_t{m.loop_config.send_slots}); }

  // One loop turn. Waits in the backend at most until `max_deadline` (0 = never block).
  // Returns false once the node has finished stopping.
  bool turn(TimeNs max_deadline, TimeNs caller_sleeps_until) override {
    const TimeNs now = engine::monotonic_now_ns();
    now_ = now;
    m_.counters.add(EngineCounter::loop_turns);
    if (m_.config_dirty.exchange(false)) apply_config();
    take_control(now);
    const bool more_commands = take_commands(now);
    if (auto t = m_.mesh->next_timeout(); t && *t <= now) {
      // How late timers run is what the failure detector's latency rests on: measured.
      // A deadline of 0 means "due now" (a closing connection's CLOSE frame), not a
      // time that could be late: counting it made timer_late_max_ns read the uptime.
      const bool late = *t != 0 && now - *t > kNsPerMs;
      if (*t != 0) {
        m_.counters.max(EngineCounter::timer_late_max_ns, now - *t);
        if (late) m_.counters.add(EngineCounter::timers_late_1ms);
      }
      // Datagrams that arrived before this turn are read before the timers are judged: a
      // process that was not running when a probe's ack came in must not suspect the
      // peer that answered in time (issue 18: on a starved host that made the mesh churn).
      if (late || (m_.shared && m_.socket_readable.exchange(false))) receive_before_timers();
      m_.mesh->on_timeout(now);
    }
    const bool more_transmits = transmit(now);
    drain_events();
    if (m_.stats_wanted.exchange(false)) publish_stats();

    if (m_.stop_requested.load() && !stopping_) {
      stopping_ = true;
      stop_deadline_ = now + m_.loop_config.stop_flush_ms * kNsPerMs;
    }
    if (stopping_ && ((!more_commands && m_.lanes_empty() && mesh_idle()) || now >= stop_deadline_)) {
      finish(now);
      return false;
    }

    // Inline threading: events were just queued for the caller, who is this thread.
    const bool inline_events = m_.options.threading == Threading::Inline && pushed_;
    TimeNs deadline = std::min(own_deadline(now), max_deadline);
    if (busy_poll_ || more_commands || more_transmits || inline_events) deadline = 0;
    // The driving thread sleeps next and the application has taken every event: no
    // reply will carry a held ACK before the thread wakes again, so one due before then
    // goes now rather than at its ack-delay timer (one timer arm and one wake-up less per
    // round trip; arming a near timer costs a VM exit). One due after the thread's own
    // wake-up stays held for what it sends then. A busy receiver still bundles: it does
    // not sleep between batches. Dedicated threading keeps the ACK while the event it
    // just queued is unread, for the reply the application is about to send.
    const TimeNs sleeps_until = m_.shared ? caller_sleeps_until : deadline != 0 ? max_deadline : 0;
    if (sleeps_until != 0 && !busy_poll_ && m_.events.depth() == 0 && m_.mesh->flush_acks(sleeps_until)) {
      m_.counters.add(EngineCounter::acks_flushed);
      if (transmit(now)) deadline = 0;
      else if (deadline != 0) deadline = std::min(own_deadline(now), max_deadline);
    }
    const TimeNs busy_ns = engine::monotonic_now_ns() - now;
    m_.counters.max(EngineCounter::loop_cycle_max_ns, busy_ns);
    if (deadline != 0) {
      // Park: announce it, then re-check everything a producer might have added.
      m_.parked.store(true, std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_seq_cst);
      if (m_.requests_pending()) deadline = 0;
    }
    const std::uint64_t received_before = received_;
    const std::uint64_t urgent_before = urgent_received_;
    handed_over_ = false;
    clock_stale_ = true;  // the wait may block: datagrams it delivers re-read the clock
    // Shared threading: a turn receives only when a blocker saw the socket readable (or
    // the fault injector holds datagrams that are due): no recvmmsg that finds nothing.
    // Dedicated and Inline threading block here (Shared blocks in wait_event_shared).
    if (!m_.shared) m_.yield_before_block(deadline, now);
    if (deadline != 0 || !m_.shared || m_.socket_readable.exchange(false) || m_.backend->held_until() <= now)
      m_.backend->wait(deadline, *this);
    else
      m_.backend->flush();
    release_pins();
    m_.parked.store(false, std::memory_order_relaxed);
    bool more_after_receive = false;
    if (received_ != received_before) {
      // Hand what just arrived to the application now rather than a turn later (one
      // less wait per message on the receive path; in Inline mode the caller gets the
      // event from this very call).
      now_ = engine::monotonic_now_ns();
      drain_events();
      if (caller_sleeps_until != 0 && urgent_received_ != urgent_before) {
        // The caller waits in wait_event() and a Control/High message just reached it: it
        // goes up before more goes down. The ACKs of the same batch can open a Bulk window
        // of 64 KiB datagrams to build and send, and on one CPU each send wakes the peer,
        // which then runs first: the message waited 30 us (p50) to 230 us (p99) for
        // its own thread (issue 11 §2). The transmit is the caller's next turn.
        handed_over_ = true;
        more_after_receive = true;
        m_.counters.add(EngineCounter::urgent_handovers);
      } else {
        more_after_receive = transmit(now_);
        m_.backend->flush();  // replies leave now, not at the next turn's wait
      }
    }
    next_deadline_ = more_commands || more_transmits || more_after_receive ? 0 : own_deadline(now_);
    // Busy-poll with nothing to do: yield, so that on a shared CPU the application
    // thread (or the peer's loop) gets to run instead of waiting for a time slice.
    if (deadline == 0 && busy_poll_ && !more_commands && !more_transmits && !pushed_ &&
        received_ == received_before)
      sched_yield();
    return true;
  }

  TimeNs next_deadline() const override { return next_deadline_; }
  bool handed_over() const override { return handed_over_; }

  bool batch_done() override {
    // Lanes end to end: a Control/High message completed by this batch goes to the
    // application now, not after up to 8 more batches of Bulk behind it (measured: a
    // turn receiving 512 datagrams took 1.4 ms). What is left stays in the socket.
    urgent_pushed_ = false;
    drain_events();
    if (!urgent_pushed_) return false;
    urgent_pushed_ = false;
    m_.socket_readable.store(true, std::memory_order_relaxed);  // the next turn receives the rest
    m_.counters.add(EngineCounter::receive_yields);
    return true;
  }

  void submit_direct(engine::DirectSend& d) override {
    now_ = engine::monotonic_now_ns();
    if (take_commands(now_)) return;  // still commands queued ahead of it: d goes to the queue
    d.submitted = true;
    d.result = submit(d.kind, d.peer, d.id, Bytes{d.bytes.data(), d.bytes.size()}, d.options, now_);
    if (!d.result && d.result.error().code == Errc::QueueFull) m_.counters.add(EngineCounter::queue_full);
  }

  void on_datagram(const Address& from, Bytes bytes, TimeNs received_at) override {
    receive(from, bytes, received_at, topology::Path::Udp);
  }
  void on_stream_datagram(const Address& from, Bytes bytes) override {
    receive(from, bytes, 0, topology::Path::Stream);
  }
  // A hint for the failure detector (the member is probed now), not a verdict.
  void on_stream_closed(const Address& peer) override {
    if (clock_stale_) {
      now_ = engine::monotonic_now_ns();
      clock_stale_ = false;
    }
    m_.mesh->on_stream_closed(peer, now_);
  }

 private:
  // When this loop must run again: the mesh's next timer, datagrams the backend holds
  // back (fault injector), and while stopping a periodic re-check.
  TimeNs own_deadline(TimeNs now) const {
    TimeNs deadline = std::min(m_.mesh->next_timeout().value_or(kNoDeadline), m_.backend->held_until());
    if (stopping_) deadline = std::min(deadline, std::min(stop_deadline_, now + kStopRecheckNs));
    return deadline;
  }

  void receive(const Address& from, Bytes bytes, TimeNs received_at, topology::Path path) {
    // Arrival time, not the turn's start: stamped before a blocking wait, every RTT
    // sample (probe acks, connection acks) would be short by the time spent waiting.
    if (clock_stale_) {
      now_ = engine::monotonic_now_ns();
      clock_stale_ = false;
    }
    // The mesh decodes each datagram once (header, checksum) and says whether it was one.
    if (m_.mesh->on_datagram(from, bytes, now_, received_at, path) != topology::DatagramVerdict::Accepted) {
      m_.counters.add(EngineCounter::bad_packets);
      return;
    }
    ++received_;
  }

  // Reads what the socket already holds (no wait), stamped with the turn's time.
  void receive_before_timers() {
    clock_stale_ = false;
    m_.backend->wait(0, *this);
    m_.counters.add(EngineCounter::receives_before_timers);
  }

  void apply_config() {
    {
      std::lock_guard lock(m_.config_mutex);
      m_.loop_config = m_.config;
    }
    m_.publish_loop_config();
    m_.mesh->apply_runtime_config(m_.loop_config);
    m_.fault->set_params(engine::FaultParams::from(m_.loop_config));
    m_.backend->set_gso(m_.loop_config.gso);
    busy_poll_ = m_.loop_config.busy_poll;
  }

  void take_control(TimeNs now) {
    if (m_.control.depth() == 0) return;  // most turns: see take_commands
    engine::Control c;
    for (int i = 0; i < 64 && m_.control.try_pop(c); ++i) {
      if (c.kind == engine::Control::Kind::Connect) {
        (void)m_.mesh->add_seed(c.address, now);
        continue;
      }
      std::vector<topology::Display> displays;
      for (auto& d : c.displays) displays.push_back(topology::Display{std::move(d.id), d.available, std::move(d.metadata)});
      m_.mesh->set_displays(std::move(displays), now);
    }
  }

  // Strict lane priority; returns true if the per-turn budget left commands queued.
  bool take_commands(TimeNs now) {
    int budget = kCommandsPerTurn;
    Command cmd;
    for (auto& lane : m_.lanes) {
      // Most turns find every lane empty: try_pop answers that from the queue's count. A
      // command counted but not yet visible is taken by the turn its sender's
      // work_pending causes.
      while (budget > 0 && lane->try_pop(cmd)) {
        --budget;
        submit(cmd, now);
        m_.pool.release(cmd.message);
      }
    }
    return budget == 0;
  }

  void submit(const Command& cmd, TimeNs now) {
    const Bytes bytes{m_.pool.data(cmd.message), cmd.message.size};
    if (auto r = submit(cmd.kind, cmd.peer, cmd.id, bytes, cmd.options, now); !r)
      reject(cmd.peer, cmd.id, cmd.options.lane, r.error().code);
  }

  // A send's refusal is returned (the caller reports it); a broadcast's refusals by
  // single peers are reported as Failed events, one per peer.
  Result<void> submit(Command::Kind kind, NodeId peer, MessageId id, Bytes bytes, const SendOptions& o, TimeNs now) {
    if (kind == Command::Kind::Send) {
      auto r = m_.mesh->send(peer, bytes, o, now, id);
      if (!r) return r.error();
      return {};
    }
    // Members it could not be queued to come back as MessageFailed events.
    if (auto r = m_.mesh->broadcast(bytes, o, now, id)) m_.counters.add(EngineCounter::send_rejected, r->rejected);
    return {};
  }

  void reject(NodeId peer, MessageId id, Lane lane, Errc code) {
    m_.counters.add(EngineCounter::send_rejected);
    Event ev;
    ev.kind = EventKind::Failed;
    ev.peer = peer;
    ev.id = id;
    ev.lane = lane;
    ev.reason = fail_reason_of(code);
    push(std::move(ev));
  }

  // Returns true when sending stopped for lack of slots or budget (come back soon).
  // Payloads of gathered datagrams the backend is done with go back to the mesh.
  void release_pins() {
    m_.backend->take_unpinned(unpinned_);
    for (std::uint32_t pin : unpinned_) m_.mesh->release_pin(pin);
    unpinned_.clear();
  }

  bool transmit(TimeNs now) {
    release_pins();
    const std::size_t max_bytes = m_.loop_config.max_datagram_bytes;
    for (int i = 0; i < kTransmitsPerTurn; ++i) {
      if (!m_.mesh->transmit_pending()) return false;
      MutableBytes buf = m_.backend->send_buffer();
      if (buf.empty()) {
        m_.backend->flush();
        buf = m_.backend->send_buffer();
        if (buf.empty()) {
          m_.counters.add(EngineCounter::send_slots_exhausted);
          return true;
        }
      }
      // Gathered: a bulk fragment's payload is sent from its message, not copied here.
      protocol::Gathered gathered;
      auto t = m_.mesh->poll_transmit(buf.first(std::min(buf.size(), max_bytes)), now, &gathered);
      if (!t) return false;
      if (t->stream)
        m_.backend->commit_stream_send(t->to, t->size);  // always whole (Mesh::poll_transmit)
      else
        m_.backend->commit_send(t->to, t->size, t->alone, gathered);
      if (!gathered.empty()) m_.counters.add(EngineCounter::gathered_sends);
    }
    return true;
  }

  void push(Event&& ev) {
    if (!m_.events.try_push(events_producer_, std::move(ev))) {
      m_.counters.add(EngineCounter::events_dropped);
      return;
    }
    pushed_ = true;
  }

  void drain_events() {
    pushed_ = false;
    while (auto e = m_.mesh->poll_event()) {
      std::visit([this](auto& v) { convert(v); }, *e);
    }
    if (m_.mesh_time.differs(m_.mesh->mesh_time())) m_.mesh_time.publish(m_.mesh->mesh_time());
    // The fence orders the queue's store before the waiter count's load (StoreLoad); the
    // waiter increments it with a locked RMW and then re-checks the queue.
    if (pushed_) std::atomic_thread_fence(std::memory_order_seq_cst);
    if (pushed_ && m_.event_waiters.load() > 0) {
      if (m_.shared) {
        m_.backend->wake();  // Shared: waiters block in the backend's application set
      } else {
        const std::uint64_t one = 1;
        (void)!::write(m_.event_fd, &one, sizeof one);
      }
    }
  }

  void convert(const topology::MessageReceived& r) {
    Event ev;
    ev.kind = EventKind::Received;
    ev.peer = r.peer;
    ev.lane = r.lane;
    ev.delivery = r.delivery;
    ev.latest_value = r.latest_value;
    ev.key = r.key;
    ev.version = r.version;
    engine::MessageRef ref;
    // A message too big for a slot keeps the block it was reassembled in: the protocol
    // gets a spare block of ours for it. This was a second copy of every bulk byte on
    // the receiver (a third of its instructions at 1 MiB messages, callgrind).
    if (r.payload.size() > m_.pool.slot_bytes() &&
        m_.pool.adopt(r.payload.size(), ref, [&](std::uint8_t* spare) { return m_.mesh->take_received_payload(spare); })) {
      m_.counters.add(EngineCounter::payloads_adopted);
    } else if (m_.pool.store_or_heap(r.payload.data(), r.payload.size(), ref)) {
      m_.counters.add(EngineCounter::large_message_allocs);
    }
    PayloadAccess::attach(ev.payload, m_.pool, ref);
    const bool urgent = r.lane == Lane::Control || r.lane == Lane::High;
    urgent_pushed_ |= urgent;
    urgent_received_ += urgent ? 1 : 0;
    push(std::move(ev));
  }
  void convert(const topology::MessageDelivered& d) {
    Event ev;
    ev.kind = EventKind::Delivered;
    ev.peer = d.peer;
    ev.id = d.id;
    ev.lane = d.lane;
    push(std::move(ev));
  }
  void convert(const topology::MessageFailed& f) {
    Event ev;
    ev.kind = EventKind::Failed;
    ev.peer = f.peer;
    ev.id = f.id;
    ev.lane = f.lane;
    ev.reason = f.reason;
    push(std::move(ev));
  }
  void convert(const topology::PeerUp& p) {
    Event ev;
    ev.kind = EventKind::PeerConnected;
    ev.peer = p.peer;
    ev.address = p.address;
    push(std::move(ev));
  }
  void convert(const topology::PeerDown& p) { simple(EventKind::PeerDisconnected, p.peer); }
  void convert(const topology::PeerLeft& p) { simple(EventKind::PeerLeft, p.peer); }
  void convert(const topology::PeerSuspect& p) { simple(EventKind::PeerSuspect, p.peer); }
  void convert(const topology::RoleChanged& r) {
    Event ev;
    ev.kind = EventKind::RoleChanged;
    ev.peer = r.node;
    ev.role = r.role;
    ev.term = r.term;
    push(std::move(ev));
  }
  void convert(const topology::CongestionChanged& c) {
    Event ev;
    ev.kind = EventKind::CongestionChanged;
    ev.peer = c.peer;
    ev.in_recovery = c.in_recovery;
    ev.cwnd_bytes = c.cwnd_bytes;
    push(std::move(ev));
  }
  void convert(const topology::LinkQualityChanged& l) {
    Event ev;
    ev.kind = EventKind::LinkQualityChanged;
    ev.peer = l.peer;
    ev.link = l.quality;
    ev.observer = l.observer;
    push(std::move(ev));
  }
  // Rare (a display switched or its owner came and went): the strings may allocate.
  void convert(const topology::DisplayAvailability& d) {
    Event ev;
    ev.kind = d.available ? EventKind::DisplayAvailable : EventKind::DisplayUnavailable;
    ev.peer = d.node;
    ev.display = DisplayInfo{d.display_id, d.available, d.metadata};
    push(std::move(ev));
  }

  void convert(const topology::ClockSyncChanged& c) {
    simple(c.synced ? EventKind::ClockSynced : EventKind::ClockSyncLost, c.coordinator);
  }

  void convert(const topology::JoinRefused& j) {
    Event ev;
    ev.kind = EventKind::JoinRefused;
    ev.peer = j.peer;
    ev.address = j.address;
    ev.reason = FailReason::PeerLimit;
    log_line(m_.options.log, LogLevel::Warning, "join refused by %s (%s): its view is full (max_peers)",
             j.address.to_string().c_str(), std::string(to_string(ev.reason)).c_str());
    push(std::move(ev));
  }

  void simple(EventKind kind, NodeId peer) {
    Event ev;
    ev.kind = kind;
    ev.peer = peer;
    push(std::move(ev));
  }

  // Nothing of ours waiting to be sent or acknowledged on any connection.
  bool mesh_idle() const {
    for (const auto& member : m_.mesh->members()) {
      const ConnectionStats* s = m_.mesh->peer_stats(member.id);
      if (!s || !member.connected) continue;
      if (s->bytes_in_flight > 0) return false;
      for (const auto& lane : s->lanes)
        if (lane.queue_depth > 0) return false;
    }
    return true;
  }

  void finish(TimeNs now) {
    // Whatever is still queued goes to the mesh so that leave() fails it with Closed.
    while (take_commands(now)) {
    }
    m_.mesh->leave(now);
    (void)transmit(now);  // CLOSE frames
    drain_events();
    publish_stats();
    m_.backend->wait(0, *this);  // hand the last datagrams to the kernel, reap completions
    release_pins();
  }

  void publish_stats() override {
    NodeStats s;
    s.self = m_.self_id;
    s.name = m_.options.name;
    s.backend = std::string(to_string(m_.actual_backend));
    s.local_address = m_.socket.local_address();
    s.coordinator = m_.mesh->coordinator();
    s.term = m_.mesh->term();
    for (std::size_t i = 0; i < kLaneCount; ++i) s.app_queue_depth[i] = m_.lanes[i]->depth();
    s.event_queue_depth = m_.events.depth();
    s.mesh = topology::to_mesh_stats(m_.mesh->counters());
    const auto counters = m_.counters.snapshot();
    for (std::size_t i = 0; i < engine::kEngineCounterCount; ++i)
      s.engine.emplace_back(engine::to_string(static_cast<EngineCounter>(i)), counters[i]);
    const TimeNs now = engine::monotonic_now_ns();
    s.mesh_time = m_.mesh_time.read(now);
    for (const auto& member : m_.mesh->members()) {
      PeerStats p;
      p.peer = member.id;
      p.name = member.name;
      p.address = member.address;
      p.state = member.state;
      p.role = member.role;
      p.connected = member.connected;
      p.transport = member.over_stream ? Transport::Tcp : Transport::Udp;
      p.incarnation = member.incarnation;
      p.link = member.link;
      for (const auto& d : member.displays) p.displays.push_back(DisplayInfo{d.id, d.available, d.metadata});
      if (const auto clock = m_.mesh->clock_estimate(member.id, now); clock.valid) {
        p.clock_offset_ns = clock.offset_ns;
        p.clock_error_ns = clock.error_ns;
      }
      if (const ConnectionStats* cs = m_.mesh->peer_stats(member.id)) {
        p.connection = *cs;
        for (std::size_t l = 0; l < kLaneCount; ++l) s.lanes[l] += cs->lanes[l];
      }
      s.peers.push_back(std::move(p));
    }
    for (const auto& l : m_.mesh->links())
      s.links.push_back(LinkReport{l.observer, l.peer, l.quality, now > l.reported_at ? (now - l.reported_at) / kNsPerMs : 0});
    {
      std::lock_guard lock(m_.stats_mutex);
      m_.stats_snapshot = std::move(s);
      ++m_.stats_generation;
    }
    m_.stats_cv.notify_all();
  }


  Node::Impl& m_;
  TimeNs now_ = 0;
  bool clock_stale_ = false;  // now_ predates a backend wait
  bool stopping_ = false;
  TimeNs stop_deadline_ = kNoDeadline;
  bool pushed_ = false;
  bool urgent_pushed_ = false;  // a Control/High message was queued since the last batch_done()
  std::uint64_t urgent_received_ = 0;  // Control/High messages queued for the application
  bool handed_over_ = false;           // the last turn left its transmit to hand one over
  std::uint64_t received_ = 0;
  std::vector<std::uint32_t> unpinned_;  // release_pins' scratch: at most a pin per send slot (and held datagram)
  bool busy_poll_ = m_.loop_config.busy_poll;
  TimeNs next_deadline_ = 0;
  // Events keep the loop's order whichever thread runs the turn (Shared threading).
  engine::EventQueues::Producer events_producer_{m_.events};
};

}  // namespace

namespace engine {
std::unique_ptr<LoopDriver> make_loop(Node::Impl& impl) { return std::make_unique<Loop>(impl); }
}  // namespace engine

}  // namespace hana
