// Private state of protocol::Connection, shared by its implementation files:
//   connection.cpp         API surface: send, events, close, stats, config
//   connection_tx.cpp      packet assembly (poll_transmit)
//   connection_rx.cpp      datagram processing: acks, data, skips, close
//   connection_timers.cpp  loss detection, probe timeout, deadlines, idle, keepalive
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "protocol/ack_tracker.h"
#include "protocol/buffer_pool.h"
#include "protocol/congestion.h"
#include "protocol/connection.h"
#include "protocol/lane_guard.h"
#include "protocol/latest_index.h"
#include "protocol/loss_detection.h"
#include "protocol/out_messages.h"
#include "protocol/pacer.h"
#include "protocol/pmtu_prober.h"
#include "protocol/reassembly.h"
#include "protocol/receive_streams.h"
#include "protocol/redundant_copies.h"
#include "protocol/ring.h"
#include "protocol/rtt_estimator.h"
#include "protocol/scheduler.h"
#include "protocol/sent_packets.h"
#include "protocol/token_bucket.h"

namespace hana::protocol {

struct Connection::Impl {
  Impl(const Config& config, ConnectionIds ids, TimeNs now);
  ~Impl();

  enum class State : std::uint8_t { Open, Closing, Closed };

  // ---- configuration ----
  Config cfg;
  ConnectionIds ids;
  LossConfig loss_cfg;
  TimeNs urgent_ack_delay_ns = 0;  // urgent_ack_delay_us knob
  TimeNs stream_ack_delay_ns = 0;  // stream_ack_delay_us knob (0: acks over a stream as over UDP)
  void apply_config(TimeNs now);
  PmtuProber pmtu;
  std::size_t path_overhead = 28;  // IPv4 + UDP headers (set_path_overhead)
  void configure_pmtu() { pmtu.configure(cfg.base_datagram(), cfg.max_datagram_bytes, path_overhead); }
  // Largest datagram sent now: the base size until path-MTU discovery confirmed more.
  std::size_t max_datagram() const { return pmtu.current(); }
  void datagram_size_changed();  // max_datagram() moved: window, lane guard follow

  // ---- state ----
  State state = State::Open;
  mutable ConnectionStats stats;
  MessageId next_message_id = 1;
  TimeNs last_received = 0;
  TimeNs last_sent = 0;

  // ---- send side ----
  OutMessages out;
  std::array<std::uint64_t, kStreamCount> next_send_seq{};
  LaneScheduler scheduler;
  Ring<SkipFrame> pending_skips{16};
  LatestIndex latest_index;  // unsent latest-value messages, for coalescing
  bool ping_pending = false;
  // CLOSE goes out twice (back to back): a lone lost CLOSE would leave the peer
  // waiting for its idle timeout.
  std::uint32_t close_sends_left = 2;
  CloseReason close_reason = CloseReason::Normal;
  RedundantCopies copies;  // high_redundancy
  bool last_alone = false;  // the last poll_transmit wrote a copy or a path-MTU probe
  bool tx_drained = false;  // and left nothing to send now (transmit_drained)
  TimeNs redundancy_spacing_ns = 0;

  // ---- loss recovery and congestion ----
  SentPackets sent{64};  // grows with the window while warming up
  std::uint64_t next_pn = 0;
  bool has_largest_acked = false;
  std::uint64_t largest_acked = 0;
  RttEstimator rtt;
  NewReno cc;
  std::uint64_t bytes_in_flight = 0;
  std::uint64_t lower_bytes_in_flight = 0;  // Normal/Bulk frame bytes of those (SentPacket::lower_bytes)
  static constexpr std::uint32_t kProbePackets = 2;
  // On a stream, the probe timeout is at least this (doubling with its backoff): TCP
  // repairs within a stream, this repairs what a broken stream lost.
  static constexpr TimeNs kStreamRepairNs = 1 * kNsPerSec;
  static constexpr std::uint64_t kUrgentHeadroomPackets = 2;
  static constexpr TimeNs kMinAckHorizonNs = 200 * kNsPerUs;
  std::uint32_t pto_backoff = 0;
  std::uint32_t probes_pending = 0;
  std::uint32_t probe_round = 0;  // probe timeouts so far; a message counts one retransmission per round
  TimeNs last_eliciting_sent = 0;
  std::optional<TimeNs> loss_time;
  ReorderWindow reorder;     // RACK reordering window
  LostHistory lost_history;  // recently declared lost: a later ack of one is a spurious loss
  std::optional<TimeNs> blocked_until;  // pacing / token bucket wake-up
  bool reported_recovery = false;
  bool bucket_was_blocked = false;
  bool guard_was_holding = false;
  Pacer pacer;
  TokenBucket bucket;
  LaneGuard lane_guard;  // Normal/Bulk in flight bounded while Control/High is active

  // ---- receive side ----
  AckTracker acks;
  BufferPool pool;
  Reassembly reassembly{pool};
  std::array<OrderedStream, kLaneCount> ordered;
  std::array<SeqWindow, kLaneCount> unordered;
  std::array<SequencedStream, kLaneCount> sequenced;
  LatestTable latest;
  std::uint64_t held_bytes = 0;  // complete ordered messages waiting for a gap
  bool stream_path = false;  // set_stream_path(): no loss detection, probes or copies
  ReassemblyBudget* node_budget = nullptr;  // the node's, if set (set_reassembly_budget)
  std::uint64_t node_charged = 0;           // our share of node_budget->used_bytes

  // ---- events ----
  struct PendingEvent {
    ConnectionEvent event;
    std::uint32_t buffer = BufferPool::kNone;
  };
  Ring<PendingEvent> urgent_events{16};  // Control/High traffic: popped first
  Ring<PendingEvent> events{64};         // everything else
  std::uint32_t lent_buffer = BufferPool::kNone;  // payload of the event returned last

  // ---- connection.cpp ----
  // `shared`: a payload of out.payloads() holding `message` (a broadcast's one copy), or
  // kNone to copy `message` into a payload of its own.
  Result<MessageId> send(Bytes message, std::uint32_t shared, const SendOptions& options, TimeNs now, MessageId id,
                         bool mesh);
  bool coalesce(Bytes message, std::uint32_t shared, const SendOptions& options, MessageId id, bool mesh);
  std::uint32_t take_payload(Bytes message, std::uint32_t shared);  // a reference for a slot
  void set_payload(std::uint32_t slot, Bytes message, std::uint32_t shared);
  void fail(std::uint32_t slot, FailReason reason);
  void fail_all(FailReason reason);
  void enter_closed(CloseReason reason, bool by_peer, bool send_close);
  // Control/High traffic events go to the queue that is drained first. Decided on the
  // concrete event, before it becomes a ConnectionEvent: reading `lane` back through a
  // std::visit made GCC's -Wmaybe-uninitialized fire in the ASan build.
  template <class E>
  void push_event(E&& ev, std::uint32_t buffer = BufferPool::kNone) {
    bool urgent = false;
    if constexpr (requires { ev.lane; }) urgent = ev.lane == Lane::Control || ev.lane == Lane::High;
    (urgent ? urgent_events : events).push_back(PendingEvent{ConnectionEvent(std::forward<E>(ev)), buffer});
  }
  void report_congestion();

  // ---- connection_tx.cpp ----
  std::size_t poll_transmit(MutableBytes buffer, TimeNs now, Gathered* gathered);
  bool nothing_to_send(TimeNs now) const;
  std::size_t write_pmtu_probe(MutableBytes buffer, std::size_t size, TimeNs now);
  // `pin`: non-null when a large fragment may be appended by reference; it then receives
  // the payload reference taken for it.
  bool append_lane_frame(Lane lane, DatagramWriter& w, SentPacket& sp, std::uint32_t* pin);
  bool append_data(const OutMessage& m, std::uint32_t fragment, DatagramWriter& w, std::uint32_t* pin);
  DataFrame data_frame(const OutMessage& m, std::uint32_t fragment) const;
  Header next_header() const;

  // ---- connection_rx.cpp ----
  Connection::Arrival on_datagram(const DatagramView& datagram, TimeNs now, bool via_stream);
  void on_ack_frame(const AckFrame& ack, TimeNs now);
  void on_data_frame(const DataFrame& f, TimeNs now);
  void on_skip_frame(const SkipFrame& f);
  void deliver(const DataFrame& f, std::uint32_t buffer);
  void drain_ordered(Lane lane);
  void emit_received(Lane lane, Delivery delivery, bool latest_value, std::uint64_t key,
                     std::uint64_t version, std::uint32_t buffer, Bytes view, bool mesh);
  // Room for more received data: the peer's own (reassembly_limit_bytes) and, within
  // it, the node's (node_budget).
  std::uint64_t peer_budget_left() const;
  std::uint64_t memory_budget_left() const;
  // No room for `need` more bytes: over its own limit the peer is cut off; over the
  // node's budget the message is refused (counted), an unreliable one without more ado.
  void out_of_memory(std::uint64_t need, bool reliable);
  // Reports our reassembly memory to node_budget (after every change that can free or
  // take memory: a datagram, a close, the end of the connection).
  void sync_budget();
  void resource_limit_close();

  // ---- connection_timers.cpp ----
  void on_timeout(TimeNs now);
  std::optional<TimeNs> next_timeout() const;
  std::optional<TimeNs> pto_deadline() const;
  void on_packet_acked(const SentPacket& p);
  void leave_flight(const SentPacket& p);  // acked, lost or requeued: out of the in-flight counts
  void on_packet_lost(std::uint64_t pn, SentPacket& p);
  void requeue_frames(SentPacket& p);  // p's frames go again (a loss, or a move onto a stream)
  void requeue_in_flight();            // set_stream_path(true): everything in flight goes again
  void detect_losses(TimeNs now);
  void on_pto(TimeNs now);
  // Requeues the frames of `p` for a probe; `mark`: count them in p.requeued (a later
  // ack of p then shows they were spurious; the deliberate repeat of a probe is not).
  bool probe_packet(SentPacket& p, bool mark = true);
  bool retransmission_waiting();
  bool requeue_fragment(std::uint32_t slot, std::uint32_t fragment, bool by_probe);
  void check_deadlines(TimeNs now);
};

}  // namespace hana::protocol
