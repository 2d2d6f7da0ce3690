// Sealed datagrams: with a pre-shared key every datagram is encrypted and authenticated
// with XChaCha20-Poly1305-IETF (libsodium), the header as associated data, and the
// 16-byte tag in place of the XXH3 trailer. docs/wire-format.md ("Sealed datagrams") is
// the byte reference, docs/security.md the threat model. Pure computation (no clock, no
// randomness): the caller passes the nonce's salt and counter in.
//
//   plain:  header | frames | XXH3 trailer               (as DatagramWriter finishes it)
//   sealed: header (flags = SEALED) | nonce 24 B | frames, encrypted | tag 16 B
//   nonce:  key id u32 LE | sender salt 12 B | counter u64 LE
//
// The nonce is unique per key as long as each sender's salt is (12 random bytes drawn
// per node start) and its counter never goes back (Mesh: one strictly increasing counter
// per node for every datagram it sends). The key id names the key without trial
// decryption; the counter doubles as the sender's clock for the receiver's freshness
// check (replay of old datagrams, topology/auth.h).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "hana/result.h"
#include "hana/types.h"
#include "protocol/codec.h"

namespace hana::protocol {

inline constexpr std::size_t kSaltBytes = 12;
using Salt = std::array<std::uint8_t, kSaltBytes>;
inline constexpr std::size_t kSealNonceBytes = 4 + kSaltBytes + 8;  // key id | salt | counter
inline constexpr std::size_t kSealTagBytes = 16;
// Bytes a sealed datagram needs beyond its plain frames and header (the plain trailer
// is dropped): writers that will be sealed must leave this much room.
inline constexpr std::size_t kSealOverhead = kSealNonceBytes + kSealTagBytes;
inline constexpr std::size_t kMaxSealKeys = 2;  // a send key and one more accepted (rotation)

// The key id: the first 4 bytes (little-endian) of BLAKE2b-256("hana-net key id", key).
std::uint32_t key_id_of(const PresharedKey& key);

// Who sealed a datagram, and which of theirs it is (the nonce, decoded).
struct SealOrigin {
  std::uint32_t key_id = 0;
  Salt salt{};
  std::uint64_t counter = 0;
};

enum class OpenError : std::uint8_t {
  NotSealed,   // a hana datagram without the SEALED flag (an unkeyed node's)
  Malformed,   // not a hana datagram, or too short for a nonce and a tag
  UnknownKey,  // a key id this node does not hold
  BadTag,      // forged, corrupted, or sealed under another key with a colliding id
};

struct OpenResult {
  std::optional<DatagramView> datagram;  // frames point into the caller's plain buffer
  SealOrigin origin;
  std::size_t key_index = 0;  // which of our keys opened it (valid with datagram)
  OpenError error = OpenError::Malformed;  // valid when !datagram
};

class Sealer {
 public:
  // keys[0] seals by default; every key opens. 1..kMaxSealKeys distinct keys, else InvalidArgument.
  static Result<Sealer> create(std::span<const PresharedKey> keys);

  // Seals the plain datagram buffer[0, plain_size) in place, as `salt`/`counter`, under
  // keys[key_index] (0, the send key, unless the receiver is known to hold only another).
  // Returns the sealed size; 0 if the buffer cannot hold it, the datagram is not one
  // DatagramWriter could have finished, or there is no such key.
  std::size_t seal(MutableBytes buffer, std::size_t plain_size, const Salt& salt, std::uint64_t counter,
                   std::size_t key_index = 0) const;
  // Opens a received datagram into `plain` (at least datagram.size() bytes). The header
  // keeps the SEALED flag; frames lie in `plain`.
  OpenResult open(Bytes datagram, MutableBytes plain) const;

  std::uint32_t send_key_id() const { return keys_[0].id; }
  std::size_t key_count() const { return count_; }

 private:
  struct Slot {
    PresharedKey key{};
    std::uint32_t id = 0;
  };
  Sealer() = default;
  const Slot* find(std::uint32_t id) const;
  std::array<Slot, kMaxSealKeys> keys_{};
  std::size_t count_ = 0;
};

}  // namespace hana::protocol
