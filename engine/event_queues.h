// The application's events in two classes, so that a High message never waits behind
// Bulk traffic the application has not read yet (lanes isolated end to end): Control and
// High traffic and the mesh's own events (peers, roles, congestion, links, displays) are
// popped before Normal and Bulk traffic (Received, Delivered, Failed of those lanes).
// Order holds within each class, so within each lane; across the two classes an urgent
// event may overtake an older Normal/Bulk one. Both are bounded by event_queue_events.
#pragma once

#include <cstddef>

#include "engine/app_queue.h"
#include "hana/node.h"

namespace hana::engine {

class EventQueues {
 public:
  explicit EventQueues(std::size_t capacity)
      : urgent_(capacity), traffic_(capacity) {}

  // The loop's producer token for both classes (see BoundedQueue::Producer).
  class Producer {
   public:
    explicit Producer(EventQueues& q) : urgent_(q.urgent_), traffic_(q.traffic_) {}

   private:
    friend class EventQueues;
    BoundedQueue<Event>::Producer urgent_;
    BoundedQueue<Event>::Producer traffic_;
  };

  static bool is_urgent(const Event& e) {
    const bool traffic = e.kind == EventKind::Received || e.kind == EventKind::Delivered || e.kind == EventKind::Failed;
    return !traffic || e.lane == Lane::Control || e.lane == Lane::High;
  }

  // False when the event's class is full (the event is left untouched).
  bool try_push(Producer& p, Event&& e) {
    return is_urgent(e) ? urgent_.try_push(p.urgent_, std::move(e)) : traffic_.try_push(p.traffic_, std::move(e));
  }
  bool try_pop(Event& out) { return urgent_.try_pop(out) || traffic_.try_pop(out); }
  std::size_t depth() const { return urgent_.depth() + traffic_.depth(); }

 private:
  BoundedQueue<Event> urgent_;
  BoundedQueue<Event> traffic_;
};

}  // namespace hana::engine
