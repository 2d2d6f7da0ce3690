// Internals of hana::Node shared by node.cpp (the any-thread API) and event_loop.cpp
// (the loop thread). Ownership: everything in the "loop only" block is touched by the
// loop thread alone once start() has handed it over.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "engine/app_queue.h"
#include "engine/backend.h"
#include "engine/counters.h"
#include "engine/fault_injector.h"
#include "engine/message_pool.h"
#include "engine/socket.h"
#include "hana/node.h"
#include "topology/mesh.h"

namespace hana {

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
  Lane lane = Lane::Normal;
  Delivery delivery = Delivery::ReliableOrdered;
  bool latest_value = false;
  NodeId peer = 0;
  MessageId id = 0;
  std::uint64_t key = 0;
  std::uint64_t version = 0;
  MessageRef message;
};

// The event loop, driven by its own thread (Threading::Dedicated) or by the
// application thread inside poll_event/wait_event (Threading::Inline).
class LoopDriver {
 public:
  virtual ~LoopDriver() = default;
  // One turn, waiting at most until `max_deadline` (0 = do not block). False once stopped.
  virtual bool turn(TimeNs max_deadline) = 0;
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
  Config config;                                 // guarded by config_mutex
  std::atomic<bool> config_dirty{false};
  std::atomic<std::uint64_t> max_message_bytes;  // copy of the knob for the send path
  const NodeOptions options;
  NodeId self_id = 0;
  engine::Counters counters;
  engine::MessagePool pool;
  std::array<std::unique_ptr<engine::BoundedQueue<engine::Command>>, kLaneCount> lanes;
  engine::BoundedQueue<engine::Control> control{1024};
  engine::BoundedQueue<Event> events;
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
  Result<MessageId> enqueue(engine::Command::Kind kind, NodeId peer, std::span<const std::uint8_t> bytes,
                            const SendOptions& options);
  Result<void> init_on_this_thread();
  void open_discovery();               // after the backend exists; logs and goes on when it fails  // backend + mesh; on the thread that will drive the loop
  std::unique_ptr<engine::LoopDriver> loop;
  bool loop_finished = false;  // the loop's thread only
  bool drive(TimeNs max_deadline) {
    if (loop_finished) return false;
    if (!loop->turn(max_deadline)) loop_finished = true;
    return !loop_finished;
  }
  bool inline_mode() const { return options.threading == Threading::Inline; }
};

namespace engine {
std::unique_ptr<LoopDriver> make_loop(Node::Impl& impl);  // event_loop.cpp
}  // namespace engine

}  // namespace hana
