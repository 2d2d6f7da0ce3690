// Enum-indexed engine counters (Aeron system-counters style): a flat array of atomics
// written by the loop (and, for QueueFull, by application threads); a snapshot is a copy.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace hana::engine {

#define HANA_ENGINE_COUNTERS(X)                                                               \
  X(datagrams_received, "datagrams read from the socket")                                   \
  X(bytes_received, "UDP payload bytes read")                                               \
  X(datagrams_sent, "datagrams the kernel accepted")                                        \
  X(bytes_sent, "UDP payload bytes the kernel accepted")                                    \
  X(send_errors, "datagrams the kernel refused (dropped; the protocol repairs reliable data)") \
  X(send_too_large, "datagrams the kernel refused as larger than the interface carries (EMSGSIZE): path-MTU probes beyond the local MTU") \
  X(send_enobufs, "sends refused with ENOBUFS/EAGAIN (socket or device queue full)")        \
  X(send_slots_exhausted, "times every send slot was busy and sending had to wait a turn")  \
  X(recv_enobufs, "io_uring multishot receive stopped for lack of provided buffers (re-armed)") \
  X(recv_errors, "receive calls that failed")                                               \
  X(cq_overflow, "io_uring completion-queue overflows seen")                                \
  X(truncated, "datagrams larger than the receive buffer (MSG_TRUNC): counted and dropped") \
  X(bad_packets, "datagrams that failed header/checksum validation: counted and dropped")   \
  X(gso_sends, "sendmsg calls that carried more than one datagram via UDP_SEGMENT")         \
  X(gathered_sends, "datagrams sent with a large fragment's payload gathered from its message instead of copied into the send slot") \
  X(wakeups, "loop wake-ups requested by application threads")                              \
  X(loop_turns, "event-loop iterations")                                                    \
  X(loop_cycle_max_ns, "longest loop iteration (excluding the wait)")                       \
  X(fault_dropped, "datagrams the fault injector dropped")                                  \
  X(fault_duplicated, "datagrams the fault injector duplicated")                            \
  X(fault_delayed, "datagrams the fault injector delayed or reordered")                     \
  X(queue_full, "send()/broadcast() calls rejected with QueueFull")                         \
  X(pool_exhausted, "send()/broadcast() calls rejected because every message slot was in use") \
  X(large_message_allocs, "messages larger than message_slot_bytes (heap-copied)")          \
  X(payloads_adopted, "received messages larger than message_slot_bytes handed to the application in the block they were reassembled in (no copy)") \
  X(events_dropped, "events dropped because the application event queue was full")         \
  X(send_rejected, "queued messages the mesh refused (reported as Failed)")                 \
  X(timer_late_max_ns, "latest a mesh timer (probe, suspicion, retransmit, ...) ran after its deadline") \
  X(timers_late_1ms, "mesh timers that ran more than 1 ms after their deadline")           \
  X(turns_application, "Shared threading: loop turns run by application threads")          \
  X(turns_standby, "Shared threading: loop turns run by the node's own (standby) thread")  \
  X(standby_arms, "Shared threading: times the standby's timer was armed (only when no application thread would serve the loop's deadline)") \
  X(standby_arms_deferred, "Shared threading: standby arms that fell after the loop's deadline (within standby_grace_us of it) because an application thread had been blocked in wait_event() within that grace and will most likely serve it first") \
  X(standby_disarms, "Shared threading: times an application thread about to block in wait_event() took the standby's pending timer off (it serves the loop's deadline itself)") \
  X(wait_yields, "times a thread about to block until a deadline (wait_event() in Shared threading, the loop in the others) yielded the CPU first (wait_yield)") \
  X(standby_yields, "Shared threading: times the standby yielded the CPU before a turn (standby_yield)") \
  X(sends_deferred, "Shared threading: sends with SendOptions::more queued on their connection without a loop turn (the next turn transmits them)") \
  X(standby_turns_skipped, "Shared threading: standby wake-ups for a datagram an application thread took meanwhile (no turn)") \
  X(gro_receives, "reads that carried several coalesced datagrams (UDP_GRO)")              \
  X(receive_yields, "turns that stopped receiving early to hand a Control/High message to the application before the datagrams behind it") \
  X(urgent_handovers, "Shared threading: turns of a thread in wait_event() that returned a Control/High message to it before transmitting (its next turn transmits)") \
  X(tcp_accepted, "TCP streams accepted on the listener")                                  \
  X(tcp_dialed, "TCP streams this node opened to a peer")                                  \
  X(tcp_refused, "accepted TCP streams closed at once: tcp_max_connections were open")   \
  X(tcp_connect_failed, "TCP streams this node opened that did not connect")              \
  X(tcp_bad_frames, "TCP streams closed for junk: a bad hello, an empty or oversized frame") \
  X(tcp_slow_frames, "TCP streams closed because a hello or frame stayed incomplete for tcp_frame_timeout_ms (slowloris)") \
  X(tcp_closed, "TCP streams the peer closed or reset, or that failed")                    \
  X(tcp_send_overflow, "datagrams dropped because their TCP stream's send buffer was full") \
  X(tcp_datagrams_received, "datagrams taken out of TCP streams")                          \
  X(tcp_datagrams_sent, "datagrams framed onto TCP streams")                               \
  X(acks_flushed, "turns that sent held ACKs at once because the driving thread was about to sleep with every event taken") \
  X(receives_before_timers, "turns that read the socket before running due mesh timers (a late turn, or datagrams waiting): an ack that arrived in time is seen before its probe is judged")

enum class EngineCounter : std::uint8_t {
#define HANA_X(name, doc) name,
  HANA_ENGINE_COUNTERS(HANA_X)
#undef HANA_X
      Count
};
inline constexpr std::size_t kEngineCounterCount = static_cast<std::size_t>(EngineCounter::Count);

constexpr std::string_view to_string(EngineCounter c) {
  constexpr std::string_view kNames[] = {
#define HANA_X(name, doc) #name,
      HANA_ENGINE_COUNTERS(HANA_X)
#undef HANA_X
  };
  return kNames[static_cast<std::size_t>(c)];
}

using CounterSnapshot = std::array<std::uint64_t, kEngineCounterCount>;

class Counters {
 public:
  void add(EngineCounter c, std::uint64_t n = 1) {
    values_[static_cast<std::size_t>(c)].fetch_add(n, std::memory_order_relaxed);
  }
  // Single writer (the loop): a plain load/store keeps the max without a CAS loop.
  void max(EngineCounter c, std::uint64_t v) {
    auto& slot = values_[static_cast<std::size_t>(c)];
    if (v > slot.load(std::memory_order_relaxed)) slot.store(v, std::memory_order_relaxed);
  }
  std::uint64_t get(EngineCounter c) const {
    return values_[static_cast<std::size_t>(c)].load(std::memory_order_relaxed);
  }
  CounterSnapshot snapshot() const {
    CounterSnapshot out{};
    for (std::size_t i = 0; i < kEngineCounterCount; ++i) out[i] = values_[i].load(std::memory_order_relaxed);
    return out;
  }

 private:
  std::array<std::atomic<std::uint64_t>, kEngineCounterCount> values_{};
};

}  // namespace hana::engine
