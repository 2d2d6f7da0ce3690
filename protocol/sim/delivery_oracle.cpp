#include "protocol/sim/delivery_oracle.h"

#include <algorithm>
#include <cmath>

namespace hana::sim {
namespace {
constexpr std::size_t kMaxProblems = 20;

std::string describe(const char* what, std::uint8_t stream, std::uint64_t index) {
  return std::string(what) + " (stream " + std::to_string(stream) + ", message " + std::to_string(index) + ")";
}
}  // namespace

void OracleReport::merge(const OracleReport& o) {
  sent += o.sent;
  reliable_sent += o.reliable_sent;
  rejected += o.rejected;
  received += o.received;
  received_bytes += o.received_bytes;
  duplicates += o.duplicates;
  order_violations += o.order_violations;
  sequence_violations += o.sequence_violations;
  stale_versions += o.stale_versions;
  corrupted += o.corrupted;
  delivered += o.delivered;
  failed += o.failed;
  superseded += o.superseded;
  for (std::size_t i = 0; i < failed_by_reason.size(); ++i) failed_by_reason[i] += o.failed_by_reason[i];
  outcome_violations += o.outcome_violations;
  missing += o.missing;
  unreliable_lost += o.unreliable_lost;
  first_send = std::min(first_send, o.first_send);
  last_receive = std::max(last_receive, o.last_receive);
  for (std::size_t l = 0; l < kLaneCount; ++l)
    latency_ns[l].insert(latency_ns[l].end(), o.latency_ns[l].begin(), o.latency_ns[l].end());
  for (const auto& p : o.problems)
    if (problems.size() < kMaxProblems) problems.push_back(p);
}

FlowOracle::FlowOracle(std::span<const StreamSpec> streams) {
  for (const auto& spec : streams) {
    Stream s;
    s.spec = spec;
    s.messages.resize(spec.messages);
    if (spec.latest_value) s.last_version.assign(std::max<std::uint32_t>(spec.keys, 1), 0);
    streams_.push_back(std::move(s));
  }
}

void FlowOracle::problem(std::string text) {
  if (report_.problems.size() < kMaxProblems) report_.problems.push_back(std::move(text));
}

bool FlowOracle::needs_outcome(const Stream& s, std::uint64_t index) const {
  if (!is_reliable(s.spec.delivery)) return false;
  if (!s.spec.latest_value) return true;
  // Older versions may be coalesced away; the final version of each key must arrive or fail.
  return index + std::max<std::uint32_t>(s.spec.keys, 1) >= s.spec.messages;
}

void FlowOracle::on_sent(std::uint8_t stream, std::uint64_t index, MessageId id, std::size_t, TimeNs now) {
  Stream& s = streams_.at(stream);
  Message& m = s.messages.at(index);
  m.id = id;
  m.accepted = true;
  ++report_.sent;
  if (is_reliable(s.spec.delivery)) ++report_.reliable_sent;
  report_.first_send = std::min(report_.first_send, now);
  if (!by_id_.emplace(id, std::make_pair(stream, index)).second) {
    ++report_.outcome_violations;
    problem(describe("send() returned an id already in use", stream, index));
  }
  if (needs_outcome(s, index)) ++awaiting_outcome_;
}

void FlowOracle::on_delivered(const protocol::DeliveredEvent& event) {
  auto it = by_id_.find(event.id);
  if (it == by_id_.end()) {
    ++report_.outcome_violations;
    problem("Delivered for an unknown message id " + std::to_string(event.id));
    return;
  }
  auto [stream, index] = it->second;
  Stream& s = streams_[stream];
  Message& m = s.messages[index];
  ++report_.delivered;
  if (m.outcome != Outcome::None) {
    ++report_.outcome_violations;
    problem(describe("second outcome (Delivered)", stream, index));
    return;
  }
  m.outcome = Outcome::Delivered;
  if (needs_outcome(s, index)) --awaiting_outcome_;
  if (event.lane != s.spec.lane) {
    ++report_.outcome_violations;
    problem(describe("Delivered on the wrong lane", stream, index));
  }
  // Delivered means "acked by the peer"; an ordered receiver may still hold the message
  // behind a gap, so the matching receipt is checked in finish(), not here.
}

void FlowOracle::on_failed(const protocol::FailedEvent& event) {
  auto it = by_id_.find(event.id);
  if (it == by_id_.end()) {
    ++report_.outcome_violations;
    problem("Failed for an unknown message id " + std::to_string(event.id));
    return;
  }
  auto [stream, index] = it->second;
  Stream& s = streams_[stream];
  Message& m = s.messages[index];
  if (event.reason == FailReason::Superseded) {
    ++report_.superseded;
    if (!s.spec.latest_value) {
      ++report_.outcome_violations;
      problem(describe("Failed(Superseded) for a message that is not latest-value", stream, index));
    }
  } else {
    ++report_.failed;
  }
  const auto reason = static_cast<std::size_t>(event.reason);
  if (reason < report_.failed_by_reason.size()) ++report_.failed_by_reason[reason];
  if (m.outcome != Outcome::None) {
    ++report_.outcome_violations;
    problem(describe("second outcome (Failed)", stream, index));
    return;
  }
  m.outcome = Outcome::Failed;
  if (needs_outcome(s, index)) --awaiting_outcome_;
}

void FlowOracle::on_received(const protocol::ReceivedEvent& event, TimeNs now) {
  auto header = read_payload(event.payload);
  if (!header || header->stream >= streams_.size() || header->index >= streams_[header->stream].messages.size()) {
    ++report_.corrupted;
    problem("received a payload that is not an intact test message (" + std::to_string(event.payload.size()) +
            " bytes)");
    return;
  }
  const std::uint8_t stream = header->stream;
  const std::uint64_t index = header->index;
  Stream& s = streams_[stream];
  Message& m = s.messages[index];
  if (event.lane != s.spec.lane || event.delivery != s.spec.delivery || event.latest_value != s.spec.latest_value) {
    ++report_.corrupted;
    problem(describe("received on the wrong lane or delivery mode", stream, index));
  }
  if (m.receipts > 0) {
    ++report_.duplicates;
    problem(describe("received twice", stream, index));
    return;
  }
  m.receipts = 1;
  ++report_.received;
  report_.received_bytes += event.payload.size();
  report_.last_receive = std::max(report_.last_receive, now);
  report_.latency_ns[static_cast<std::size_t>(s.spec.lane)].push_back(now - header->sent_at);

  const auto i = static_cast<std::int64_t>(index);
  if (s.spec.delivery == Delivery::ReliableOrdered && !s.spec.latest_value) {
    if (i <= s.last_index) {
      ++report_.order_violations;
      problem(describe("reliable-ordered message after a later one", stream, index));
    }
    s.last_index = std::max(s.last_index, i);
  } else if (s.spec.delivery == Delivery::UnreliableSequenced) {
    if (i <= s.last_index) {
      ++report_.sequence_violations;
      problem(describe("unreliable-sequenced went backwards", stream, index));
    }
    s.last_index = std::max(s.last_index, i);
  }
  if (s.spec.latest_value) {
    const std::uint32_t keys = std::max<std::uint32_t>(s.spec.keys, 1);
    const std::uint64_t key = index % keys;
    const std::uint64_t version = index + 1;
    if (event.key != key || event.version != version) {
      ++report_.corrupted;
      problem(describe("latest-value key/version do not match the message", stream, index));
    }
    if (version <= s.last_version[key]) {
      ++report_.stale_versions;
      problem(describe("latest-value delivered a stale version", stream, index));
    }
    s.last_version[key] = std::max(s.last_version[key], version);
  }
}

void FlowOracle::finish() {
  for (std::size_t st = 0; st < streams_.size(); ++st) {
    const Stream& s = streams_[st];
    for (std::uint64_t i = 0; i < s.messages.size(); ++i) {
      const Message& m = s.messages[i];
      if (!m.accepted) continue;
      if (!is_reliable(s.spec.delivery)) {
        if (m.receipts == 0) ++report_.unreliable_lost;
        continue;
      }
      if (m.outcome == Outcome::Delivered && m.receipts == 0) {
        bool newer = false;  // latest-value: a newer version of the key arrived instead
        if (s.spec.latest_value) {
          const std::uint32_t keys = std::max<std::uint32_t>(s.spec.keys, 1);
          newer = s.last_version[i % keys] > i + 1;
        }
        if (!newer) {
          ++report_.outcome_violations;
          problem(describe("Delivered but never received", static_cast<std::uint8_t>(st), i));
        }
      }
      if (!needs_outcome(s, i)) continue;
      if (m.receipts == 0 && m.outcome == Outcome::None) {  // Delivered-without-receipt counted above
        ++report_.missing;
        problem(describe("reliable message neither received nor failed", static_cast<std::uint8_t>(st), i));
      } else if (m.outcome == Outcome::None) {
        ++report_.missing;
        problem(describe("reliable message received but no outcome reported", static_cast<std::uint8_t>(st), i));
      }
    }
  }
}

TimeNs percentile(std::vector<TimeNs> samples, double pct) {
  if (samples.empty()) return 0;
  const double rank = std::ceil(pct / 100.0 * static_cast<double>(samples.size()));
  const std::size_t k = std::min(samples.size() - 1, static_cast<std::size_t>(std::max(rank, 1.0)) - 1);
  std::nth_element(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(k), samples.end());
  return samples[k];
}

}  // namespace hana::sim
