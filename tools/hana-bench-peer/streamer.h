// A confirmed stream of equal-size messages on the BULK channel, limited by a
// window of unconfirmed messages. Used alone (stream mode: bulk goodput and
// message rate) and under a ping (the priority scenario's background load).
#pragma once

#include <algorithm>
#include <cstring>
#include <vector>

#include "transport.h"
#include "wire.h"

namespace bench {

class Streamer {
 public:
  Streamer(Transport& t, int peer, std::size_t size_bytes, std::size_t window_msgs)
      : t_(t), peer_(peer), msg_(size_bytes, 0xB5), window_msgs_(std::max<std::size_t>(1, window_msgs)) {}

  // Queues up to max_msgs more messages if the window and the transport allow, then flushes.
  int pump(int max_msgs) {
    int sent = 0;
    while (sent < max_msgs && next_seq_ - 1 - acked_seq_ < window_msgs_ && t_.can_send_bulk(peer_)) {
      write_header(msg_.data(), Kind::kBulk, next_seq_);
      t_.send(peer_, Channel::kBulk, msg_.data(), msg_.size());
      ++next_seq_;
      ++sent;
    }
    if (sent > 0) t_.flush();
    return sent;
  }

  void on_ack(const Incoming& in, std::int64_t now) {
    Header h{};
    if (!read_header(in.data, in.len, &h) || h.kind != Kind::kAck || in.len < kAckBytes) return;
    AckBody body{};
    std::memcpy(&body, in.data + kHeaderBytes, sizeof body);
    if (h.seq > acked_seq_ && h.seq < next_seq_) acked_seq_ = h.seq;
    acked_msgs_ = std::max(acked_msgs_, body.completed_msgs);
    acked_bytes_ = std::max(acked_bytes_, body.completed_bytes);
    last_ack_ns_ = now;
  }

  bool window_full() const { return next_seq_ - 1 - acked_seq_ >= window_msgs_; }
  bool all_confirmed() const { return acked_seq_ + 1 == next_seq_; }
  std::uint64_t sent_msgs() const { return next_seq_ - 1; }
  std::uint64_t acked_msgs() const { return acked_msgs_; }
  std::uint64_t acked_bytes() const { return acked_bytes_; }
  std::int64_t last_ack_ns() const { return last_ack_ns_; }

 private:
  Transport& t_;
  int peer_;
  std::vector<std::uint8_t> msg_;
  std::size_t window_msgs_;
  std::uint64_t next_seq_ = 1;
  std::uint64_t acked_seq_ = 0;
  std::uint64_t acked_msgs_ = 0;
  std::uint64_t acked_bytes_ = 0;
  std::int64_t last_ack_ns_ = 0;
};

}  // namespace bench
