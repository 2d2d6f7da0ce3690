// Shared threading: the event loop is a role that whichever thread is already awake
// takes (leader/follower), so a round trip costs no thread hand-off. An application
// thread that sends runs the turn that transmits; one blocked in wait_event() receives
// its own message; the node's own thread is the standby that turns the loop when no
// application thread does. See node_impl.h for the state and backend.h for block().
//
// The standby sleeps at most loop_standby_us while the application is active (its last
// turn is less than kActiveWindowNs old): a timer that falls due while no application
// thread is inside the library runs at most that late, and no application call ever has
// to wake it. After kActiveWindowNs without an application turn it sleeps until the
// loop's deadline; an application turn that then moves the deadline earlier kicks it
// once. Datagrams wake it directly (the backend's standby epoll set) whenever no
// application thread waits.
#include <mutex>

#include "engine/clock.h"
#include "engine/node_impl.h"

namespace hana {

namespace {
constexpr TimeNs kActiveWindowNs = 100 * kNsPerMs;
// Turns one call runs back to back while other threads keep adding work; past it the
// standby takes over, so a sender is never held for long.
constexpr int kMaxTurnsPerCall = 16;
}  // namespace

void Node::Impl::turn_shared(bool wait_for_loop, bool application, engine::DirectSend* direct) {
  work_pending.store(true, std::memory_order_seq_cst);
  for (int round = 0; round < kMaxTurnsPerCall; ++round) {
    if (wait_for_loop && round == 0) {
      loop_mutex.lock();
    } else if (!loop_mutex.try_lock()) {
      return;  // the holder re-checks work_pending after it lets go
    }
    work_pending.store(false, std::memory_order_relaxed);
    if (direct && round == 0) loop->submit_direct(*direct);
    counters.add(application ? engine::EngineCounter::turns_application : engine::EngineCounter::turns_standby);
    const bool alive = drive(0);
    const TimeNs next = alive ? loop->next_deadline() : engine::kNoDeadline;
    loop_deadline.store(next, std::memory_order_relaxed);
    loop_mutex.unlock();
    if (application) {
      last_application_turn.store(engine::monotonic_now_ns(), std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_seq_cst);
      // Pairs with run_standby(): it announces a long sleep, fences, then re-reads the deadline.
      if (standby_long.load(std::memory_order_relaxed) && next < standby_until.load(std::memory_order_relaxed) &&
          standby_long.exchange(false)) {
        counters.add(engine::EngineCounter::standby_kicks);
        backend_for_wake->kick_standby();
      }
    }
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (!alive || (next != 0 && !work_pending.load(std::memory_order_relaxed))) return;
  }
  backend_for_wake->kick_standby();
}

void Node::Impl::run_standby() {
  // Bounded by the stop: once stop() is called the loop finishes within stop_flush_ms.
  bool readable = true;
  for (;;) {
    // A wake on cadence while an application thread waits in the backend and no timer is
    // due needs nothing: that thread receives whatever arrives. A readable socket is
    // always served (waiting for the loop if another thread holds it): epoll is level-
    // triggered, so leaving it would return at once and spin, and under SCHED_FIFO a
    // spinning standby starves the very thread it waits for.
    if (readable || event_waiters.load() == 0 ||
        loop_deadline.load(std::memory_order_relaxed) <= engine::monotonic_now_ns())
      turn_shared(true, false);
    if (loop_finished.load()) return;
    const TimeNs now = engine::monotonic_now_ns();
    TimeNs until = loop_deadline.load(std::memory_order_relaxed);
    // Due already: another thread holds the loop and will turn it (it saw work_pending),
    // or our own turn left work and kicked us.
    if (until <= now) until = now + standby_ns.load(std::memory_order_relaxed);
    const TimeNs last_app = last_application_turn.load(std::memory_order_relaxed);
    if (now - std::min(now, last_app) < kActiveWindowNs) {
      standby_long.store(false, std::memory_order_relaxed);
      until = std::min(until, now + standby_ns.load(std::memory_order_relaxed));
    } else {
      standby_until.store(until, std::memory_order_relaxed);
      standby_long.store(true, std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_seq_cst);
      until = std::max(now, std::min(until, loop_deadline.load(std::memory_order_relaxed)));
    }
    readable = backend_for_wake->block(until, /*standby=*/true);
    if (readable) socket_readable.store(true, std::memory_order_relaxed);
  }
}

Result<MessageId> Node::Impl::send_shared(engine::Command::Kind kind, NodeId peer,
                                          std::span<const std::uint8_t> bytes, const SendOptions& options) {
  if (auto r = check_send(bytes, options); !r) return r.error();
  engine::DirectSend direct;
  direct.kind = kind;
  direct.peer = peer;
  direct.bytes = bytes;
  direct.options = options;
  direct.id = next_id.fetch_add(1, std::memory_order_relaxed);
  turn_shared(false, true, &direct);  // never waits: a busy loop means the queue
  if (!direct.submitted) return enqueue(kind, peer, bytes, options);  // the loop's holder takes it
  if (!direct.result) return direct.result.error();
  return direct.id;
}

bool Node::Impl::wait_event_shared(Event& out, TimeNs deadline) {
  // Bounded by the deadline: every round blocks until a datagram, an event or the deadline.
  for (long rounds = 0; rounds < (1L << 40); ++rounds) {
    turn_shared(true, true);
    if (events.try_pop(out)) return true;
    if (loop_finished.load()) return false;
    const TimeNs now = engine::monotonic_now_ns();
    if (now >= deadline) return false;
    // Announce the wait, then re-check (the loop writes the wake-up only for announced waiters).
    event_waiters.fetch_add(1);
    if (events.try_pop(out)) {
      event_waiters.fetch_sub(1);
      return true;
    }
    const TimeNs until = std::min(deadline, loop_deadline.load(std::memory_order_relaxed));
    if (until > now && backend_for_wake->block(until, /*standby=*/false))
      socket_readable.store(true, std::memory_order_relaxed);
    event_waiters.fetch_sub(1);
  }
  return false;
}

}  // namespace hana
