// Bounded multi-producer queue from application threads to the loop (and back, for
// events): moodycamel::ConcurrentQueue plus an atomic depth counter that enforces the
// bound, so a full queue answers QueueFull instead of growing. After warm-up the queue
// recycles its blocks: no allocation per element.
#pragma once

#include <algorithm>
#include <atomic>
#include <concurrentqueue/concurrentqueue.h>
#include <cstddef>
#include <cstdint>

namespace hana::engine {

template <class T>
class BoundedQueue {
 public:
  // Elements allocated up front; the rest on demand, once (blocks are recycled, so after
  // warm-up there is no allocation per element either way). Not all of them: the event
  // queue's 65536 events of ~250 B would fault in about 8 MiB per node that a quiet node
  // never uses, and a 100-node mesh on one host pays that 100 times (issue 18).
  static constexpr std::size_t kPreallocated = 1024;
  explicit BoundedQueue(std::size_t capacity, std::size_t preallocated = kPreallocated)
      : capacity_(static_cast<std::int64_t>(capacity)), queue_(std::min(capacity, preallocated), 0, 16) {}

  // The queue keeps FIFO order per producer, and without a token a producer is a
  // thread. A logical producer that runs on several threads in turn (the Shared loop:
  // its turns are serialized, but any thread may run one) pushes through one Producer so
  // its elements keep their order. Not for concurrent use.
  class Producer {
   public:
    explicit Producer(BoundedQueue& q) : token_(q.queue_) {}

   private:
    friend class BoundedQueue;
    moodycamel::ProducerToken token_;
  };

  // Any thread. False when the bound is reached (the value is left untouched).
  bool try_push(T&& value) {
    return push_bounded([&] { return queue_.enqueue(std::move(value)); });
  }
  bool try_push(Producer& producer, T&& value) {
    return push_bounded([&] { return queue_.enqueue(producer.token_, std::move(value)); });
  }

  // An empty queue answers from its count: a dequeue attempt on an empty moodycamel queue
  // walks its producers (~100 instructions), and most pops find nothing (the event
  // queues' urgent class before every Bulk event, a waiter's re-checks: ~700
  // instructions per round trip at an echo, callgrind). The count rises before the
  // element is enqueued and falls after it is taken, so a zero means nothing to take;
  // read seq_cst, as the waiters' announce-then-recheck (wait_event) pairs it with the
  // loop's fence after its pushes.
  bool try_pop(T& out) {
    if (depth_.load(std::memory_order_seq_cst) <= 0) return false;
    if (!queue_.try_dequeue(out)) return false;
    depth_.fetch_sub(1, std::memory_order_relaxed);
    return true;
  }

  std::size_t depth() const {
    const auto d = depth_.load(std::memory_order_relaxed);
    return d > 0 ? static_cast<std::size_t>(d) : 0;
  }
  std::size_t capacity() const { return static_cast<std::size_t>(capacity_); }

 private:
  template <class Enqueue>
  bool push_bounded(Enqueue&& enqueue) {
    if (depth_.fetch_add(1, std::memory_order_acq_rel) >= capacity_) {
      depth_.fetch_sub(1, std::memory_order_relaxed);
      return false;
    }
    if (!enqueue()) {  // only on allocation failure
      depth_.fetch_sub(1, std::memory_order_relaxed);
      return false;
    }
    return true;
  }

  const std::int64_t capacity_;
  std::atomic<std::int64_t> depth_{0};
  moodycamel::ConcurrentQueue<T> queue_;
};

}  // namespace hana::engine
