// Shared threading: the event loop is a role that whichever thread is already awake
// takes (leader/follower), so a round trip costs no thread hand-off. An application
// thread that sends runs the turn that transmits; one blocked in wait_event() receives
// its own message and serves the loop's timers; the node's own thread is the standby
// that turns the loop when no application thread does. See node_impl.h for the state
// and backend.h for block().
//
// Timers cost more than syscalls here: arming a timer that becomes the CPU's next expiry
// reprograms the clock-event device, a VM exit (measured 11-14 us per arm for one due in
// 30-100 us on the 2-vCPU VMs, against ~1.2 us for a plain syscall). Mirroring every
// deadline change into the standby's timerfd cost three such arms per round trip and
// took the default p50 from ~50 to ~90 us. So the standby's timer is armed only when
// nobody else will serve the deadline:
// - a thread that blocks in wait_event() blocks until min(its deadline, the loop's) and
//   serves the loop's timers itself (inline mode's behaviour): no arm;
// - a turn that moves the deadline earlier than a blocked waiter will wake arms the
//   standby exactly (the multi-threaded case: a sender thread, an event thread asleep);
// - a thread that returns to the application while none is blocked leaves the standby
//   armed between half the standby_grace_us and all of it ahead (at random, see below)
//   when an application thread blocked in wait_event() within that grace (it will most
//   likely be back and serve the deadline itself), exactly otherwise (an application that
//   only sends);
// - the standby re-arms its own timer exactly when the application is away.
// An armed timer that is still pending and not late is left alone: an early wake only
// makes the standby look and re-arm, which costs less than re-arming on every turn.
//
// Such a grace arm is usually not needed (the application came back), but it still fires.
// Armed at exactly now + grace it fired in step with a periodic application: at 1000
// messages/s and a 2 ms grace (the default then), an echo's arm (taken on message k, for the held ACK
// of k) fired as message k+2 arrived, and a pinger's as reply k+2 did; with both ends on
// one CPU the woken standby ran in the middle of that round trip. Traced over the TCP
// path (perf sched/syscall tracepoints, 304 round trips): 25 % of the round trips had a
// standby wake-up inside them, median 86 us against 57 us for the others. So the arm
// falls at a random point of the grace's second half (engine/standby_grace.h).
//
// The standby yields the CPU before a turn it takes for a readable socket or for work the
// previous turn left (standby_yield). While an application thread is busy in its own code
// (copying Bulk messages in), datagrams wake the standby instead, and on one CPU the two
// threads then compete: the scheduler lets the running standby finish its slice (EEVDF:
// ~3 ms) before the application thread its timer just woke, and a High message the
// application was about to send waited behind Bulk turns. Issue 11 §2, HIGH ping under a
// 64 KiB Bulk stream, ping and echo each on its own CPU, CFS: p50/p99 130/8000 us without
// the yield, 94/185 us with it (idle: 97/158 us); Bulk 370 -> 540 MB/s. With nobody else
// runnable on the CPU a yield returns at once.
#include <sched.h>

#include <algorithm>
#include <mutex>

#include "engine/clock.h"
#include "engine/node_impl.h"
#include "engine/standby_grace.h"

namespace hana {

namespace {
// Turns one call runs back to back while other threads keep adding work; past it the
// standby takes over, so a sender is never held for long.
constexpr int kMaxTurnsPerCall = 16;
}  // namespace

void Node::Impl::cover_deadline(TimeNs next, TurnThen then) {
  if (then == TurnThen::Block) return;  // this thread blocks until min(its deadline, next)
  const TimeNs now = engine::monotonic_now_ns();
  if (standby_armed != engine::kNoDeadline && standby_armed <= now) {
    if (then != TurnThen::Standby) return;  // fired: the standby's own turn re-arms
    standby_armed = engine::kNoDeadline;   // this turn is the one its firing woke
  }
  TimeNs want = next, latest_ok = next;
  if (event_waiters.load() > 0) {
    if (waiter_wakes_at.load() <= next) return;  // a blocked application thread serves it
  } else {
    const TimeNs grace = static_cast<TimeNs>(loop_config.standby_grace_us) * kNsPerUs;
    if (grace > 0 && (then == TurnThen::Soon || now - last_block_ns.load(std::memory_order_relaxed) < grace)) {
      want = engine::standby_grace_arm(next, now, grace, standby_jitter);
      latest_ok = std::max(next, now + grace) + grace;
    }
  }
  // The application's turns keep a pending timer that fires in time (an early wake is
  // cheaper than an arm); the standby mirrors its own timer, since it is the one to wake.
  const bool keep = then == TurnThen::Leave || then == TurnThen::Soon ? standby_armed != engine::kNoDeadline && standby_armed <= latest_ok
                                            : standby_armed == want;
  if (keep) return;
  standby_armed = want;
  counters.add(engine::EngineCounter::standby_arms);
  if (want > next) counters.add(engine::EngineCounter::standby_arms_deferred);
  backend_for_wake->arm_standby(want);
}

void Node::Impl::turn_shared(bool wait_for_loop, bool application, engine::DirectSend* direct, TurnThen then,
                             TimeNs sleeps_until) {
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
    const bool alive = drive(0, then == TurnThen::Block ? sleeps_until : 0);
    const TimeNs next = alive ? loop->next_deadline() : engine::kNoDeadline;
    loop_deadline.store(next);
    // The turn handed an urgent message to this waiter before transmitting: the waiter
    // goes to the application with it, and its next call (or, if it stays away, the
    // standby within the grace) transmits.
    const bool handed_over = alive && then == TurnThen::Block && loop->handed_over() && events.depth() > 0;
    if (next != 0 || handed_over) {
      // A waiter's turn that queued an event returns to the application instead of blocking.
      cover_deadline(handed_over ? engine::monotonic_now_ns() : next,
                     then == TurnThen::Block && events.depth() > 0 ? TurnThen::Leave : then);
    }
    // next == 0 otherwise: work is left and this call turns again (or kicks the standby below).
    loop_mutex.unlock();
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (handed_over) {
      // Another thread that found the loop busy left its work to this holder.
      if (work_pending.load(std::memory_order_relaxed)) backend_for_wake->kick_standby();
      return;
    }
    if (!alive || (next != 0 && !work_pending.load(std::memory_order_relaxed))) return;
    if (!application) yield_to_application();
  }
  backend_for_wake->kick_standby();
}

void Node::Impl::run_standby() {
  // Bounded by the stop: once stop() is called the loop finishes within stop_flush_ms.
  // Every wake has a reason to turn: the armed deadline fell due, a kick (work left by a
  // call that hit kMaxTurnsPerCall, a knob, the stop), or a readable socket that no
  // application thread took (epoll is level-triggered: leaving it would spin).
  bool turn = true;
  for (;;) {
    if (turn) turn_shared(true, false, nullptr, TurnThen::Standby);
    if (loop_finished.load()) return;
    turn = true;
    if (backend_for_wake->block(engine::kNoDeadline, /*standby=*/true)) {
      socket_readable.store(true, std::memory_order_relaxed);
      yield_to_application();  // no application thread was blocked to take it: one is busy
      // The busy thread ran during the yield and its turn took the flag, and so what the
      // socket held (on one CPU: the reply to the message that thread had just sent, which
      // arrived before it blocked). A turn here would find nothing, no timer is due, and
      // the standby's own timer has not fired (its turn would re-arm it: nobody else does).
      if (turn_would_idle(engine::monotonic_now_ns(), /*before_block=*/false) && standby_timer_pending()) {
        counters.add(engine::EngineCounter::standby_turns_skipped);
        turn = false;
      }
    }
  }
}

// This thread is about to block until `wake` and serves the loop's deadline itself
// (cover_deadline): a standby timer still pending from a turn that returned to the
// application (its grace arm, usually) would only wake the standby for nothing if it
// falls due during this block. A fan-out leaf returned to its application once per
// message and its standby woke 1-2 ms later, a timer interrupt and a thread wake-up per
// message per leaf; with 99 leaves on a CPU they fell inside the round. Taken off only
// when this block will likely outlast it and the grace (the longer of this node's last
// two blocks did): an application back within the grace (a ping-pong at 1000/s) keeps
// its pending arm for its next turns (cover_deadline keeps a pending arm that fires in
// time). Taking it off there too put a disarm before each block and an arm after it on
// every round trip: hana-bench rtt at 1000/s, p50 ~60 -> ~70 us.
// Kept too when the loop's deadline is now earlier than `wake`: another thread's turn
// moved it after this one read it, and armed the standby exactly for it. Never waits for
// the loop: a busy holder covers the deadline when its turn ends.
void Node::Impl::disarm_standby_for_blocker(TimeNs wake, TimeNs now) {
  std::unique_lock lock(loop_mutex, std::try_to_lock);
  if (!lock.owns_lock() || standby_armed == engine::kNoDeadline) return;
  if (standby_armed <= now || loop_deadline.load() < wake) return;  // fired, or needed
  // Only for an application that stays away longer than the grace: one back within it
  // keeps the pending arm for its next turns (cover_deadline), and there the arm and
  // the disarm on every round trip cost more than the wake they save.
  const TimeNs blocks = recent_block_ns.load(std::memory_order_relaxed);
  if (blocks <= static_cast<TimeNs>(loop_config.standby_grace_us) * kNsPerUs || standby_armed - now > blocks) return;
  standby_armed = engine::kNoDeadline;
  counters.add(engine::EngineCounter::standby_disarms);
  backend_for_wake->arm_standby(engine::kNoDeadline);
}

bool Node::Impl::standby_timer_pending() {
  std::lock_guard lock(loop_mutex);
  return standby_armed == engine::kNoDeadline || standby_armed > engine::monotonic_now_ns();
}

// A block until a deadline arms a timer: a VM exit when it becomes the CPU's next
// expiry. Whoever this thread's last send woke goes first (wait_yield): on a CPU shared
// with the peer, the answer is then usually in before the block, which returns at once
// without arming anything. Measured (hana-net ping/echo, both on CPU 1, SCHED_FIFO): p50
// 30.6-31.3 -> 12.4-12.7 us at 1000/s, 29.4-32.7 -> 20.7-21.1 us at 10 000/s; udp-raw
// 23.7-24.9 us, whose pinger pays that exit. A block without a deadline arms nothing.
void Node::Impl::yield_before_block(TimeNs wake, TimeNs now) {
  if (wake <= now || wake == engine::kNoDeadline || !wait_yield.load(std::memory_order_relaxed)) return;
  counters.add(engine::EngineCounter::wait_yields);
  sched_yield();
}

void Node::Impl::yield_to_application() {
  if (!standby_yield.load(std::memory_order_relaxed)) return;
  counters.add(engine::EngineCounter::standby_yields);
  sched_yield();
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
  if (options.more && queue_without_turn(direct)) {
    if (!direct.result) return direct.result.error();
    return direct.id;
  }
  turn_shared(false, true, &direct);  // never waits: a busy loop means the queue
  if (!direct.submitted) return enqueue_checked(kind, peer, bytes, options, direct.id);  // the loop's holder takes it
  if (!direct.result) return direct.result.error();
  return direct.id;
}

// SendOptions::more: the message goes into its connection under the loop's lock, but no
// turn runs (no transmit, timers, receive or events; ~1.2k instructions against a turn's
// ~4k). The turn that follows (the next send without `more`, flush(), poll_event(),
// wait_event(), which all see work_pending) transmits what piled up; if nobody calls in,
// the standby's timer does, within standby_grace_us (cover_deadline's grace arm: the
// caller said more follows). An arm at once woke the standby of a pumping sender that
// never blocks for every burst: it then held the loop, and 36 % of the burst's sends fell
// back to the lane queue (callgrind). False: the loop is busy or commands wait ahead of
// this one (the caller then takes the usual path, the lane queue and a turn).
bool Node::Impl::queue_without_turn(engine::DirectSend& direct) {
  std::unique_lock lock(loop_mutex, std::try_to_lock);
  if (!lock.owns_lock() || loop_finished.load()) return false;
  loop->submit_direct(direct);
  if (!direct.submitted) return false;
  counters.add(engine::EngineCounter::sends_deferred);
  work_pending.store(true, std::memory_order_seq_cst);
  loop_deadline.store(0);
  cover_deadline(engine::monotonic_now_ns(), TurnThen::Soon);
  return true;
}

bool Node::Impl::turn_would_idle(TimeNs now, bool before_block) const {
  if (work_pending.load() || socket_readable.load(std::memory_order_relaxed) || loop_finished.load() ||
      requests_pending())
    return false;
  // No timer due, and before a block no ACK held: one would fall due within
  // max_ack_delay, and a turn before blocking sends held ACKs at once (flush_acks). A
  // turn that does not precede a block holds them too, so then only a due timer counts.
  const TimeNs next = loop_deadline.load();
  const TimeNs margin = quiet_margin_ns.load(std::memory_order_relaxed);
  if (margin == engine::kNoDeadline) return false;
  return next == engine::kNoDeadline || next > now + (before_block ? margin : 0);
}

bool Node::Impl::wait_event_shared(Event& out, TimeNs deadline) {
  // A call's first turn is skipped when it would find nothing to do: an application that
  // just sent a reply (its own turn sent it) comes here to block, and on one CPU the peer
  // it answered runs only once this thread blocks, so an idle turn (~3k instructions,
  // callgrind) sat on every round trip's path. After a block every round turns: what woke
  // it (a datagram, a stream, a kick) is read by the turn.
  const bool skip_first = events.depth() == 0 && turn_would_idle(engine::monotonic_now_ns(), /*before_block=*/true);
  // Bounded by the deadline: every round blocks until a datagram, an event or the deadline.
  for (long rounds = 0; rounds < (1L << 40); ++rounds) {
    if (rounds != 0 || !skip_first) turn_shared(true, true, nullptr, TurnThen::Block, deadline);
    if (events.try_pop(out)) return true;
    if (loop_finished.load()) return false;
    const TimeNs now = engine::monotonic_now_ns();
    if (now >= deadline) {
      leave_wait();
      return events.try_pop(out);
    }
    // Announce the wait, then re-check (the loop writes the wake-up only for announced
    // waiters), then read the loop's deadline: a turn that moves it after this read sees
    // this waiter and its wake time (cover_deadline).
    event_waiters.fetch_add(1);
    if (events.try_pop(out)) {
      event_waiters.fetch_sub(1);
      return true;
    }
    const TimeNs wake = std::min(deadline, loop_deadline.load());
    waiter_wakes_at.store(wake);
    disarm_standby_for_blocker(wake, now);
    last_block_ns.store(now, std::memory_order_relaxed);
    yield_before_block(wake, now);
    const bool readable = wake > now && backend_for_wake->block(wake, /*standby=*/false);
    // Blocked until now: a turn that hands what woke it to the application waited within
    // the grace, however long the block was (see cover_deadline).
    const TimeNs woke = engine::monotonic_now_ns();
    last_block_ns.store(woke, std::memory_order_relaxed);
    note_block_length(woke - now);
    if (readable) socket_readable.store(true, std::memory_order_relaxed);
    waiter_wakes_at.store(engine::kNoDeadline);  // another waiter's may be lost: the others then arm (safe)
    event_waiters.fetch_sub(1);
    if (!readable && engine::monotonic_now_ns() >= deadline) {
      leave_wait();
      return events.try_pop(out);
    }
  }
  return false;
}

// The caller's own deadline ended its block and it goes back to the application: the
// loop's deadline, which it served while blocked, needs the standby now. A turn taken
// as a blocker's would not arm it (cover_deadline: a blocker serves it itself), and with
// nothing due and nothing arrived (the common case: a pinger woken for its next send)
// the turn itself would find nothing.
void Node::Impl::leave_wait() {
  if (!turn_would_idle(engine::monotonic_now_ns(), /*before_block=*/false)) {
    turn_shared(true, true, nullptr, TurnThen::Leave);
    return;
  }
  std::lock_guard lock(loop_mutex);
  const TimeNs next = loop_deadline.load();
  if (next != 0) cover_deadline(next, TurnThen::Leave);
}

}  // namespace hana
