// Sealing and opening at the mesh's datagram seam (auth.h), and the replay cache.
#include "topology/auth.h"

#include <algorithm>
#include <cstring>

#include "protocol/prng.h"

namespace hana::topology {

ReplayCache::ReplayCache() : entries_(kSets * kWays) {}

bool ReplayCache::first_sight(const protocol::SealOrigin& origin) {
  std::uint64_t h = origin.key_id;
  for (std::uint8_t b : origin.salt) h = (h << 8) ^ (h >> 56) ^ b;
  Entry* set = &entries_[(protocol::mix64(h) % kSets) * kWays];
  ++tick_;
  Entry* victim = set;
  for (std::size_t w = 0; w < kWays; ++w) {
    Entry& e = set[w];
    if (e.used && e.key_id == origin.key_id && e.salt == origin.salt) {
      e.last_use = tick_;
      const auto recent = std::span(e.recent).first(e.count);
      if (std::find(recent.begin(), recent.end(), origin.counter) != recent.end()) return false;
      if (e.count < kRecent) {
        e.recent[e.count++] = origin.counter;
        return true;
      }
      // Full: the new counter replaces the oldest one, unless it is older still.
      auto oldest = std::min_element(e.recent.begin(), e.recent.end());
      if (origin.counter < *oldest) return false;
      *oldest = origin.counter;
      return true;
    }
    if (!e.used || (victim->used && e.last_use < victim->last_use)) victim = &e;
  }
  *victim = Entry{true, origin.key_id, origin.salt, tick_, 1, {}};
  victim->recent[0] = origin.counter;
  return true;
}

PeerKeys::PeerKeys() : entries_(kEntries) {}

void PeerKeys::heard(const Address& from, std::size_t key_index) {
  Entry& e = entries_[AddressHash{}(from) % kEntries];
  e = Entry{from, static_cast<std::uint8_t>(key_index), true};
}

std::size_t PeerKeys::key_for(const Address& to, std::size_t key_count) {
  const Entry& e = entries_[AddressHash{}(to) % kEntries];
  if (e.used && e.address == to) return e.key;
  return turn_++ % key_count;
}

Auth::Auth(Sealing sealing)
    : sealer_(std::move(*sealing.sealer)),
      salt_(sealing.salt),
      wall_offset_ns_(sealing.wall_offset_ns),
      plain_(protocol::kMaxDatagramBytes) {}

std::uint64_t Auth::wall_us(TimeNs now) const {
  return static_cast<std::uint64_t>(static_cast<std::int64_t>(now) + wall_offset_ns_) / kNsPerUs;
}

std::size_t Auth::seal(protocol::MutableBytes buffer, std::size_t plain_size, const Address& to, TimeNs now) {
  // Strictly increasing (the nonce never repeats), and the wall clock whenever the
  // sender sends fewer than one datagram per µs (the receiver's freshness check).
  const std::uint64_t counter = std::max(last_counter_ + 1, wall_us(now));
  const std::size_t key = sealer_.key_count() > 1 ? peer_keys_.key_for(to, sealer_.key_count()) : 0;
  const std::size_t n = sealer_.seal(buffer, plain_size, salt_, counter, key);
  if (n) last_counter_ = counter;
  return n;
}

OpenOutcome Auth::open(const Address& from, protocol::Bytes datagram, TimeNs now, protocol::DatagramView& out,
                       std::uint64_t* counter) {
  const protocol::OpenResult r = sealer_.open(datagram, plain_);
  if (!r.datagram) return OpenOutcome::AuthFailed;
  const std::uint64_t ours = wall_us(now);
  const std::uint64_t skew = r.origin.counter > ours ? r.origin.counter - ours : ours - r.origin.counter;
  if (skew > kFreshnessWindowUs) return OpenOutcome::Replayed;
  if (r.datagram->header.connection_id == protocol::kConnectionlessId && !replays_.first_sight(r.origin))
    return OpenOutcome::Replayed;
  if (sealer_.key_count() > 1) peer_keys_.heard(from, r.key_index);
  out = *r.datagram;
  if (counter) *counter = r.origin.counter;
  return OpenOutcome::Opened;
}

}  // namespace hana::topology
