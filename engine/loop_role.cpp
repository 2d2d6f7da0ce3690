// Shared threading: the event loop is a role that whichever thread is already awake
// takes (leader/follower), so a round trip costs no thread hand-off. An application
// thread that sends runs the turn that transmits; one blocked in wait_event() receives
// its own message; the node's own thread is the standby that turns the loop when no
// application thread does. See node_impl.h for the state and backend.h for block().
//
// The standby has no cadence: waking a thread costs about a round trip on a virtual
// machine (a 1 ms cadence took the default p50 from ~50 to ~75 us). Its timer mirrors
// the loop's deadline instead: every turn, whoever runs it, re-arms the standby's timer
// when the deadline it publishes changed (under loop_mutex, so the last arm is the
// latest deadline). The standby therefore wakes exactly when a timer falls due that no
// turn has run, and never for one an application turn already served or moved. Waiters
// in wait_event() block for datagrams and events only; timers are the standby's.
// Datagrams wake the standby directly (the backend's standby epoll set) whenever no
// application thread waits.
#include <mutex>

#include "engine/clock.h"
#include "engine/node_impl.h"

namespace hana {

namespace {
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
    // next == 0: work is left and this call turns again (or kicks the standby below).
    if (next != 0 && next != standby_armed) {
      standby_armed = next;
      counters.add(engine::EngineCounter::standby_arms);
      backend_for_wake->arm_standby(next);
    }
    loop_mutex.unlock();
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (!alive || (next != 0 && !work_pending.load(std::memory_order_relaxed))) return;
  }
  backend_for_wake->kick_standby();
}

void Node::Impl::run_standby() {
  // Bounded by the stop: once stop() is called the loop finishes within stop_flush_ms.
  // Every wake has a reason to turn: the armed deadline fell due, a kick (work left by a
  // call that hit kMaxTurnsPerCall, a knob, the stop), or a readable socket that no
  // application thread took (epoll is level-triggered: leaving it would spin).
  for (;;) {
    turn_shared(true, false);
    if (loop_finished.load()) return;
    if (backend_for_wake->block(engine::kNoDeadline, /*standby=*/true))
      socket_readable.store(true, std::memory_order_relaxed);
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
    // Until the caller's deadline only: the standby's timer serves the loop's deadlines.
    if (backend_for_wake->block(deadline, /*standby=*/false))
      socket_readable.store(true, std::memory_order_relaxed);
    event_waiters.fetch_sub(1);
  }
  return false;
}

}  // namespace hana
