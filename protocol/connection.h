// protocol::Connection: the reliable-UDP state machine for one peer. Sans-IO:
// bytes and the current time go in; datagrams, the next deadline and events come out.
//
// Drive it like this (the engine and the simulator do exactly this):
//   - on every datagram for this connection: on_datagram(view, now)
//   - when now >= next_timeout():            on_timeout(now)
//   - after either, and after send():        while (n = poll_transmit(buf, now)) transmit(buf[0..n])
//   - then drain poll_event() until empty.
// Deterministic: the same calls with the same times give the same outputs.
//
// CONTRACT FILE: the shape below is what topology/, engine/ and the simulator code
// against. The protocol core owns it; change it together with its callers.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <variant>

#include "hana/config.h"
#include "hana/result.h"
#include "hana/stats.h"
#include "hana/types.h"
#include "protocol/codec.h"
#include "protocol/frames.h"
#include "protocol/reassembly_budget.h"

namespace hana::protocol {

class SharedPayloads;

// Events (poll_event), per message sent:
//   - reliable (ReliableOrdered/ReliableUnordered): exactly one of Delivered (every
//     fragment acknowledged by the peer; for ordered lanes the peer may still hold it
//     behind a gap) or Failed(reason): RetryBudget, Deadline, Closed, the abort()
//     reason, or Superseded (latest-value: replaced by a newer version of its key
//     before it was sent; also for a send whose version is not newer than the queued one).
//   - unreliable (UnreliableSequenced/Unreliable): no confirmation at all, except
//     Failed(Superseded) when coalesced.
//   - ClosedEvent once when the connection closes by close(), the peer's CLOSE, idle
//     timeout or a resource limit; abort() emits none (the caller decided it).
//   - CongestionEvent when the controller enters or leaves recovery.
// Order: Delivered/Failed/Received of the Control and High lanes come out before those
// of Normal and Bulk already queued (order holds within each lane), so a High message
// completed in the same batch as Bulk ones is not handed over behind them (a 64 KiB
// Bulk message costs its reader a copy; measured ~7 us each, in front of every ping).
struct DeliveredEvent {
  MessageId id;
  Lane lane;
};
struct FailedEvent {
  MessageId id;
  Lane lane;
  FailReason reason;
};
// payload is a view valid until the next non-const call on the Connection.
struct ReceivedEvent {
  Lane lane;
  Delivery delivery;
  bool latest_value;
  std::uint64_t key;
  std::uint64_t version;
  Bytes payload;
  bool mesh = false;  // kDataMesh: for the topology layer, never for the application
};
struct CongestionEvent {
  bool in_recovery;  // entered (true) or left (false) recovery
  std::uint64_t cwnd_bytes;
};
struct ClosedEvent {
  CloseReason reason;
  bool by_peer;
};
using ConnectionEvent = std::variant<DeliveredEvent, FailedEvent, ReceivedEvent, CongestionEvent, ClosedEvent>;

struct ConnectionIds {
  std::uint32_t local = 0;   // id peers put in datagrams they send us
  std::uint32_t remote = 0;  // id we put in datagrams we send the peer
};

class Connection {
 public:
  Connection(const Config& config, ConnectionIds ids, TimeNs now);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Queues a message. Errors: MessageTooLarge, QueueFull (lane queue bounded by
  // lane_queue_messages), Closed. `id` is chosen by the caller (the mesh uses one
  // id per broadcast); pass 0 to let the connection number it. `mesh` marks a
  // mesh-internal message (kDataMesh; topology/ only): the peer's ReceivedEvent says so,
  // and its latest-value keys do not mix with the application's.
  Result<MessageId> send(Bytes message, const SendOptions& options, TimeNs now, MessageId id = 0, bool mesh = false);
  // As send(), with the bytes of `payload` in the pool given to use_shared_payloads (a
  // broadcast's one copy): the message takes a reference instead of a copy and drops it
  // when it is delivered, failed or sent (unreliable), or the connection goes. The
  // caller keeps its own reference.
  Result<MessageId> send_shared(std::uint32_t payload, const SendOptions& options, TimeNs now, MessageId id = 0,
                                bool mesh = false);
  // Payloads come from `payloads` (shared by the node's connections; must outlive this
  // connection) instead of a pool of the connection's own. Only before the first send:
  // false (and nothing changed) once a message is queued.
  bool use_shared_payloads(SharedPayloads* payloads);
  const SharedPayloads& payloads() const;

  // What became of a datagram given to on_datagram.
  enum class Arrival : std::uint8_t {
    New,        // a packet number not seen before: its frames were applied
    Duplicate,  // a packet number already received (a network copy, a high_redundancy
                // copy, or a replay): counted in duplicate_packets and dropped unacked
    Dropped,    // the connection is not open, or a frame was malformed (bad_packets)
  };

  // A datagram addressed to this connection, already checksum-verified by decode_datagram.
  // The mesh tells a replay from a fresh copy by the result (topology/mesh.cpp).
  // `via_stream`: it came over a TCP stream, whose sender does not repair losses itself:
  // its ack is held up to stream_ack_delay_us for something to carry it.
  Arrival on_datagram(const DatagramView& datagram, TimeNs now, bool via_stream = false);

  // Call when now >= next_timeout(): ack delay, loss detection, PTO, pacing, idle, keepalive.
  void on_timeout(TimeNs now);
  std::optional<TimeNs> next_timeout() const;

  // The caller is about to sleep until `until` with every event taken, so no reply will
  // carry a held ACK before then: one due by `until` goes with the next poll_transmit
  // instead of at its ack-delay timer (one timer and one wake-up less per round trip).
  // True if an ACK is owed now.
  bool flush_acks(TimeNs until);

  // Writes at most one datagram into `buffer` and returns its size; 0 = nothing to send now.
  // With `gathered`, a large fragment's payload may stay in the message instead of being
  // copied (a scatter-gather send): the return value is then the bytes in `buffer`, and
  // *gathered says where the payload goes and holds a reference to it in payloads() (the
  // pin), which the caller releases once the datagram is sent. Only with shared payloads
  // (use_shared_payloads), whose pool the caller owns; otherwise nothing is left out.
  std::size_t poll_transmit(MutableBytes buffer, TimeNs now, Gathered* gathered = nullptr);
  // True when the datagram poll_transmit wrote last must leave in a send of its own: a
  // high_redundancy copy of an earlier one (one GSO send shares one fate on a virtual
  // link) or a path-MTU probe (a size the path may refuse must not take others with it).
  bool transmitted_alone() const;
  // True when the last poll_transmit wrote a datagram and left nothing that another call
  // would send now (nothing queued, owed or due): until new input, a send() or a timeout,
  // the caller need not ask again. False says only "ask again".
  bool transmit_drained() const;
  // Bytes the path adds below each datagram (IP and UDP headers, a seal): path-MTU
  // discovery probes link MTUs less this. Default 28 (IPv4).
  void set_path_overhead(std::size_t bytes);

  std::optional<ConnectionEvent> poll_event();
  // After poll_event returned a ReceivedEvent: instead of copying its payload, the caller
  // may take the storage it sits in, a protocol::heap_block whose first payload.size()
  // bytes are the message (the view then dangles). `replacement` (a heap_block, or
  // nullptr) takes its place in the connection's pool, so a caller that hands blocks back
  // keeps both sides allocation-free. Returns nullptr (and keeps `replacement`'s
  // ownership with the caller) when the last event was not a ReceivedEvent.
  std::uint8_t* take_received_payload(std::uint8_t* replacement);

  // Starts a graceful close (CLOSE frame); unsent and unacked reliable messages fail with `Closed`.
  void close(CloseReason reason, TimeNs now);
  // Fails everything pending with `reason` without sending (peer declared dead).
  void abort(FailReason reason, TimeNs now);
  bool is_closed() const;

  // The datagrams ride a reliable byte stream (the TCP path, docs/connection.md): loss
  // detection and high_redundancy copies are off, since TCP already repairs and a second
  // repair would only add traffic; the probe timeout waits at least a second and then
  // sends everything in flight again (what a stream that broke lost). Acks, flow and
  // congestion windows, lanes and every event work as on UDP. Either way mid-connection
  // nothing is lost or delivered twice: onto the stream, what UDP has in flight goes
  // again; back to UDP, loss detection takes over what the stream has in flight.
  void set_stream_path(bool on);
  bool stream_path() const;
  // On the stream path: the stream broke (closed, reset); what is in flight goes again now
  // (over the next stream) instead of at the probe timeout.
  void on_stream_broken();

  // Applies the runtime-changeable knobs of `config` (the rest are ignored).
  void apply_runtime_config(const Config& config);

  const ConnectionStats& stats() const;
  ConnectionIds ids() const;

  // Makes this connection's reassembly memory count against `budget` too (shared by all
  // connections of a node; must outlive the connection). A new partial message that the
  // node has no room for is refused: an unreliable one is dropped, a reliable one closes
  // the connection with CloseReason::ResourceLimit (its stream could not go on without
  // it); either way it is counted in budget->refused, and nothing is allocated.
  void set_reassembly_budget(ReassemblyBudget* budget);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;  // pimpl keeps this header stable while the core evolves
};

}  // namespace hana::protocol
