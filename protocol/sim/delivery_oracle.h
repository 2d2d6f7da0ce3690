// sim::FlowOracle: checks the delivery properties of one sender -> receiver flow.
//
// The sender side reports what it queued and the outcomes it got (Delivered/Failed);
// the receiver side reports every ReceivedEvent. The oracle checks, as they happen:
//   - no message is received twice (any delivery mode);
//   - reliable-ordered and unreliable-sequenced streams never go backwards;
//   - latest-value: a key's versions only increase, and the event's key/version match;
//   - payloads arrive intact, on the lane and in the mode they were sent with;
//   - every Delivered/Failed names a message we sent, at most one outcome per message;
// and at the end (finish): every Delivered matches a receipt (latest-value: of that
// version or a newer one; Delivered means acked, and an ordered receiver may hold an
// acked message behind a gap for a while), and every reliable message was received or
// Failed with a reason (latest-value: the final version of every key).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "hana/types.h"
#include "protocol/connection.h"
#include "protocol/sim/workload.h"

namespace hana::sim {

struct OracleReport {
  std::uint64_t sent = 0;              // accepted by Connection::send
  std::uint64_t reliable_sent = 0;     // of which reliable (ordered or unordered)
  std::uint64_t rejected = 0;          // send() errors (QueueFull back-pressure), retried later
  std::uint64_t received = 0;          // distinct messages received
  std::uint64_t received_bytes = 0;    // their payload bytes
  std::uint64_t duplicates = 0;        // a message received again
  std::uint64_t order_violations = 0;  // reliable-ordered went backwards
  std::uint64_t sequence_violations = 0;  // unreliable-sequenced went backwards
  std::uint64_t stale_versions = 0;    // latest-value version not newer than the last delivered
  std::uint64_t corrupted = 0;         // payload not ours / filler wrong / wrong lane or mode
  std::uint64_t delivered = 0;         // Delivered confirmations
  std::uint64_t failed = 0;            // Failed events, Superseded excluded
  std::uint64_t superseded = 0;        // latest-value versions replaced before sending (Failed(Superseded))
  std::array<std::uint64_t, 8> failed_by_reason{};  // indexed by FailReason (Superseded included)
  std::uint64_t outcome_violations = 0;  // unknown id, second outcome, Delivered without receipt
  std::uint64_t missing = 0;           // reliable: neither received nor Failed at the end
  std::uint64_t unreliable_lost = 0;   // unreliable messages never received (allowed)
  TimeNs first_send = ~TimeNs{0};
  TimeNs last_receive = 0;
  std::array<std::vector<TimeNs>, kLaneCount> latency_ns;  // per received message, by lane
  std::vector<std::string> problems;   // first few violations, human-readable

  std::uint64_t violations() const {
    return duplicates + order_violations + sequence_violations + stale_versions + corrupted +
           outcome_violations + missing;
  }
  void merge(const OracleReport& other);
};

class FlowOracle {
 public:
  explicit FlowOracle(std::span<const StreamSpec> streams);

  // Sender side.
  void on_sent(std::uint8_t stream, std::uint64_t index, MessageId id, std::size_t bytes, TimeNs now);
  void on_rejected() { ++report_.rejected; }
  void on_delivered(const protocol::DeliveredEvent& event);
  void on_failed(const protocol::FailedEvent& event);
  // Receiver side.
  void on_received(const protocol::ReceivedEvent& event, TimeNs now);

  // True when every reliable message that needs an outcome has one.
  bool settled() const { return awaiting_outcome_ == 0; }
  std::uint64_t awaiting_outcome() const { return awaiting_outcome_; }
  // Final checks; call once, after the run.
  void finish();
  const OracleReport& report() const { return report_; }

 private:
  enum class Outcome : std::uint8_t { None, Delivered, Failed };
  struct Message {
    MessageId id = 0;
    bool accepted = false;
    std::uint8_t receipts = 0;
    Outcome outcome = Outcome::None;
  };
  struct Stream {
    StreamSpec spec;
    std::vector<Message> messages;
    std::int64_t last_index = -1;                  // ordered / sequenced check
    std::vector<std::uint64_t> last_version;       // latest-value, per key (0 = none)
    std::uint64_t last_sent_index = 0;
    bool any_sent = false;
  };
  bool needs_outcome(const Stream& s, std::uint64_t index) const;
  void problem(std::string text);

  std::vector<Stream> streams_;
  std::unordered_map<MessageId, std::pair<std::uint8_t, std::uint64_t>> by_id_;
  std::uint64_t awaiting_outcome_ = 0;
  OracleReport report_;
};

// Percentile (0..100) of a set of samples (nearest-rank); 0 for an empty set.
TimeNs percentile(std::vector<TimeNs> samples, double pct);

}  // namespace hana::sim
