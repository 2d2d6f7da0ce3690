// Internals of hana::Node shared by node.cpp (the any-thread API) and event_loop.cpp
// (the loop thread). Ownership: everything in the "loop only" block is touched by the
// loop thread alone once start() has handed it over.
#pragma once

#include <array>
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "engine/app_queue.h"
#include "engine/event_queues.h"
#include "engine/backend.h"
#include "engine/counters.h"
#include "engine/fault_injector.h"
#include "engine/message_pool.h"
#include "engine/mesh_time_cell.h"
#include "engine/socket.h"
#include "engine/tcp_socket.h"
#include "engine/clock.h"
#include "protocol/prng.h"
#include "hana/node.h"
#include "topology/mesh.h"

namespace hana {

// One log line to the node's LogSink (NodeOptions::log), printf-style (node.cpp).
[[gnu::format(printf, 3, 4)]] void log_line(const LogSink& sink, LogLevel level, const char* format, ...);

// Builds Payloads inside the engine (Payload's fields are private to users).
struct PayloadAccess {
  static void attach(Payload& p, engine::MessagePool& pool, const engine::MessageRef& ref) {
    p.reset();
    p.pool_ = &pool;
    p.data_ = pool.data(ref);
    p.size_ = ref.size;
    p.slot_ = ref.slot;
    p.heap_ = ref.heap;
  }
};

namespace engine {

struct Command {
  enum class Kind : std::uint8_t { Send, Broadcast };
  Kind kind = Kind::Send;
  SendOptions options;  // as the send() call gave them
  NodeId peer = 0;
  MessageId id = 0;
  MessageRef message;
};

// A send() that reaches the loop directly (Shared threading, the loop was free): no
// copy into the message pool, and the mesh's refusal comes back to the caller.
struct DirectSend {
  Command::Kind kind = Command::Kind::Send;
  NodeId peer = 0;
  std::span<const std::uint8_t> bytes;
  SendOptions options;
  MessageId id = 0;
  bool submitted = false;  // false: commands were still queued ahead of it (use the queue)
  Result<void> result;
};

// The event loop, driven by its own thread (Threading::Dedicated), by the application
// thread inside poll_event/wait_event (Threading::Inline), or by whichever thread holds
// the loop (Threading::Shared).
class LoopDriver {
 public:
  virtual ~LoopDriver() = default;
  // Shared threading, loop held: takes every queued command first, so that nothing this
  // thread queued earlier is overtaken, then submits `send` to the mesh.
  virtual void submit_direct(DirectSend& send) = 0;
  // One turn, waiting at most until `max_deadline` (0 = do not block). False once stopped.
  // `caller_sleeps_until` (Shared threading; 0 = it does not): the calling thread blocks
  // until then after a turn that leaves no event, so ACKs due by then go out now (a
  // blocking turn decides that itself).
  virtual bool turn(TimeNs max_deadline, TimeNs caller_sleeps_until) = 0;
  // When the loop must turn again (0 = at once), as of the end of the last turn.
  virtual TimeNs next_deadline() const = 0;
  // The last turn (one with `caller_sleeps_until`) received a Control/High message for
  // its caller and left its transmit for the next turn (next_deadline() is 0).
  virtual bool handed_over() const = 0;
  virtual void publish_stats() = 0;
};

struct Control {
  enum class Kind : std::uint8_t { Connect, SetDisplays };
  Kind kind = Kind::Connect;
  Address address;                   // Connect
  std::vector<DisplayInfo> displays; // SetDisplays (rare: allocating here is fine)
};

// Checks a display list against what the wire carries (topology/bodies.h limits).
Result<void> validate_displays(const std::vector<DisplayInfo>& displays);

}  // namespace engine

struct Node::Impl {
  Impl(const Config& c, NodeOptions o);
  ~Impl();

  // ---- any thread ----
  mutable std::mutex config_mutex;
  engine::MeshTimeCell mesh_time;  // published by the loop, read by Node::mesh_time_ns
  Config config;                                 // guarded by config_mutex
  std::atomic<bool> config_dirty{false};
  std::atomic<std::uint64_t> max_message_bytes;  // copy of the knob for the send path
  const NodeOptions options;
  NodeId self_id = 0;
  engine::Counters counters;
  engine::MessagePool pool;
  std::array<std::unique_ptr<engine::BoundedQueue<engine::Command>>, kLaneCount> lanes;
  engine::BoundedQueue<engine::Control> control{1024};
  engine::EventQueues events;  // Control/High and mesh events before Normal/Bulk traffic
  std::atomic<int> event_waiters{0};
  int event_fd = -1;                             // readable when events were queued for a waiter
  std::atomic<bool> accepting{false};            // sends allowed
  std::atomic<bool> stop_requested{false};
  std::atomic<bool> running{false};
  std::atomic<bool> parked{false};               // the loop is about to block or blocked
  std::atomic<std::uint64_t> next_id{1};
  std::atomic<bool> stats_wanted{false};
  mutable std::mutex stats_mutex;
  mutable std::condition_variable stats_cv;
  std::uint64_t stats_generation = 0;            // guarded by stats_mutex
  NodeStats stats_snapshot;                      // guarded by stats_mutex
  engine::Backend* backend_for_wake = nullptr;   // set before start() returns
  IoBackend actual_backend = IoBackend::Auto;
  engine::UdpSocket socket;
  engine::UdpSocket beacon_socket;               // receives multicast/broadcast beacons; may stay closed
  engine::TcpListener tcp_listener;              // the TCP path (tcp_listen); may stay closed
  std::optional<engine::DiscoveryPlan> discovery;  // from options.beacon_target, checked at create
  std::thread thread;

  // ---- loop only ----
  std::unique_ptr<topology::Mesh> mesh;
  std::unique_ptr<engine::Backend> backend;  // the fault injector, wrapping the real backend
  engine::FaultInjector* fault = nullptr;
  Config loop_config;

  // Wakes the loop if it is parked (cheap when it is busy: one fence and a load).
  void notify() {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (parked.load(std::memory_order_relaxed) && parked.exchange(false)) {
      counters.add(engine::EngineCounter::wakeups);
      backend_for_wake->wake();
    }
  }
  void wake_always() {
    if (backend_for_wake) backend_for_wake->wake();
  }
  Result<void> check_send(std::span<const std::uint8_t> bytes, const SendOptions& options) const;
  Result<MessageId> enqueue(engine::Command::Kind kind, NodeId peer, std::span<const std::uint8_t> bytes,
                            const SendOptions& options);
  // enqueue() after check_send() passed, under an id already taken (send_shared's fallback
  // when another thread holds the loop: the message keeps the id it was given).
  Result<MessageId> enqueue_checked(engine::Command::Kind kind, NodeId peer, std::span<const std::uint8_t> bytes,
                                    const SendOptions& options, MessageId id);
  Result<MessageId> send_any(engine::Command::Kind kind, NodeId peer, std::span<const std::uint8_t> bytes,
                             const SendOptions& options) {
    return shared ? send_shared(kind, peer, bytes, options) : enqueue(kind, peer, bytes, options);
  }
  Result<void> init_on_this_thread();
  Result<topology::Sealing> sealing() const;  // what the mesh seals with (none without keys)
  void open_tcp();                     // after the backend exists; logs and goes on (UDP only) when it fails
  void open_discovery();               // after the backend exists; logs and goes on when it fails  // backend + mesh; on the thread that will drive the loop
  std::unique_ptr<engine::LoopDriver> loop;
  std::atomic<bool> loop_finished{false};  // written by whoever runs the loop
  bool drive(TimeNs max_deadline, TimeNs caller_sleeps_until = 0) {
    if (loop_finished.load(std::memory_order_relaxed)) return false;
    if (!loop->turn(max_deadline, caller_sleeps_until)) loop_finished.store(true);
    return !loop_finished.load(std::memory_order_relaxed);
  }
  bool inline_mode() const { return options.threading == Threading::Inline; }

  // ---- Shared threading (loop_role.cpp): the loop is a role, not a thread ----
  // Whoever holds loop_mutex runs the loop, one non-blocking turn at a time; nobody holds
  // it while blocked. send() runs the turn itself when the loop is free (try_lock: never
  // waits), wait_event() runs turns and blocks in the backend between them, and the
  // node's own thread does the same as the standby, so timers and failure detection go
  // on when the application does not call in.
  bool shared = false;                          // set before start() returns
  std::mutex loop_mutex;
  std::atomic<bool> work_pending{false};        // set before try_lock; the holder re-checks it
  std::atomic<TimeNs> loop_deadline{0};         // when the loop must turn again (published by each turn)
  TimeNs standby_armed = engine::kNoDeadline;  // the standby's timer as last armed (guarded by loop_mutex)
  // Where in the second half of standby_grace_us a grace arm falls (guarded by loop_mutex;
  // engine/standby_grace.h).
  protocol::Prng standby_jitter{static_cast<std::uint64_t>(engine::monotonic_now_ns())};
  std::atomic<TimeNs> waiter_wakes_at{engine::kNoDeadline};  // when the latest blocked wait_event() wakes
  std::atomic<TimeNs> last_block_ns{0};         // when an application thread was last blocked in wait_event()
  std::atomic<bool> socket_readable{true};      // a blocker saw a readable socket: the next turn receives
  // How far ahead of now the loop's deadline must lie for a turn to have nothing to do:
  // max_ack_delay (a held ACK falls due within it), or kNoDeadline (busy-poll: always turn).
  // Written with loop_config (publish_loop_config), read by wait_event_shared.
  std::atomic<TimeNs> quiet_margin_ns{0};
  std::atomic<bool> standby_yield{true};        // loop_config.standby_yield, read by the standby unlocked
  std::atomic<bool> wait_yield{true};           // loop_config.wait_yield, read by waiters unlocked
  void publish_loop_config() {
    quiet_margin_ns.store(loop_config.busy_poll ? engine::kNoDeadline : loop_config.max_ack_delay_us * kNsPerUs);
    standby_yield.store(loop_config.standby_yield, std::memory_order_relaxed);
    wait_yield.store(loop_config.wait_yield, std::memory_order_relaxed);
  }
  // wait_event_shared may skip its first turn, poll_event its only one. `before_block`:
  // the caller blocks next, and a turn then would also send the ACKs it holds.
  bool turn_would_idle(TimeNs now, bool before_block) const;
  bool lanes_empty() const {                    // no command queued on any lane
    for (const auto& lane : lanes)
      if (lane->depth() > 0) return false;
    return true;
  }
  // Anything an application thread asked of the loop that a turn has not taken yet.
  bool requests_pending() const {
    return !lanes_empty() || control.depth() > 0 || stop_requested.load() || config_dirty.load() ||
           stats_wanted.load();
  }
  // Runs turns while the loop is free and work is pending; waits for the loop only if
  // `wait_for_loop`. `application`: counted as an application turn, not the standby's.
  // What the calling thread does after the turn, which decides who serves the deadline.
  // Soon: back to the application, which said it calls again at once (SendOptions::more).
  enum class TurnThen { Leave, Soon, Block, Standby };
  // `sleeps_until`: with Block, the caller's own deadline (it sleeps no longer).
  void turn_shared(bool wait_for_loop, bool application, engine::DirectSend* direct = nullptr,
                   TurnThen then = TurnThen::Leave, TimeNs sleeps_until = 0);
  void cover_deadline(TimeNs next, TurnThen then);  // arms the standby if nobody else serves `next`
  Result<MessageId> send_shared(engine::Command::Kind kind, NodeId peer, std::span<const std::uint8_t> bytes,
                                const SendOptions& options);
  bool queue_without_turn(engine::DirectSend& direct);  // send_shared with SendOptions::more
  void run_standby();                           // the node's own thread
  void yield_to_application();                  // the standby, before a turn for a socket or left work
  void yield_before_block(TimeNs wake, TimeNs now);  // any thread about to block until `wake` (wait_yield)
  bool standby_timer_pending();                 // armed and not yet fired, or not armed (takes loop_mutex)
  void disarm_standby_for_blocker(TimeNs wake, TimeNs now);  // wait_event_shared, before it blocks until `wake`
  // The longer of the last two blocks in wait_event() (any thread; a hint, relaxed): how
  // long the next block will likely last. Two, since a thread that answers a message
  // blocks briefly for the ACK of its answer and long for the next message.
  std::atomic<TimeNs> last_block_len_ns{0};
  std::atomic<TimeNs> recent_block_ns{0};
  void note_block_length(TimeNs len) {
    const TimeNs prev = last_block_len_ns.exchange(len, std::memory_order_relaxed);
    recent_block_ns.store(std::max(prev, len), std::memory_order_relaxed);
  }
  bool wait_event_shared(Event& out, TimeNs deadline);
  void leave_wait();                            // wait_event_shared, its deadline passed in a block
  // Wakes whoever must act on new work: runs it here (Shared), or wakes the loop thread.
  void kick() {
    if (shared) {
      turn_shared(false, true);
    } else {
      wake_always();
    }
  }
};

namespace engine {
std::unique_ptr<LoopDriver> make_loop(Node::Impl& impl);  // event_loop.cpp
}  // namespace engine

}  // namespace hana
