// Sealing and opening of datagrams (seal.h). docs/wire-format.md "Sealed datagrams" is the
// reference for every byte here.
#include "protocol/seal.h"

#include <sodium.h>

#include <cstring>

namespace hana::protocol {
namespace {

static_assert(kSealNonceBytes == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(kSealTagBytes == crypto_aead_xchacha20poly1305_ietf_ABYTES);
static_assert(kPresharedKeyBytes == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);

constexpr char kKeyIdContext[] = "hana-net key id v1";

std::size_t plain_trailer_bytes(std::uint8_t flags) { return (flags & kFlagShortChecksum) ? 4 : 8; }

void put_u32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
void put_u64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
std::uint32_t get_u32(const std::uint8_t* p) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
std::uint64_t get_u64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

std::uint32_t key_id_of(const PresharedKey& key) {
  std::array<std::uint8_t, sizeof(kKeyIdContext) - 1 + kPresharedKeyBytes> in{};
  std::memcpy(in.data(), kKeyIdContext, sizeof(kKeyIdContext) - 1);
  std::memcpy(in.data() + sizeof(kKeyIdContext) - 1, key.data(), key.size());
  std::array<std::uint8_t, crypto_generichash_BYTES> out{};
  crypto_generichash(out.data(), out.size(), in.data(), in.size(), nullptr, 0);
  sodium_memzero(in.data(), in.size());
  return get_u32(out.data());
}

Result<Sealer> Sealer::create(std::span<const PresharedKey> keys) {
  if (keys.empty()) return Error{Errc::InvalidArgument, "sealing needs at least one key"};
  if (keys.size() > kMaxSealKeys) return Error{Errc::InvalidArgument, "at most two keys: one to send, one more accepted"};
  if (sodium_init() < 0) return Error{Errc::Unavailable, "libsodium failed to initialise"};
  Sealer s;
  for (const PresharedKey& k : keys) {
    const std::uint32_t id = key_id_of(k);
    if (s.find(id)) return Error{Errc::InvalidArgument, "the same key given twice (or two keys with one key id)"};
    s.keys_[s.count_++] = Slot{k, id};
  }
  return s;
}

const Sealer::Slot* Sealer::find(std::uint32_t id) const {
  for (std::size_t i = 0; i < count_; ++i)
    if (keys_[i].id == id) return &keys_[i];
  return nullptr;
}

std::size_t Sealer::seal(MutableBytes buffer, std::size_t plain_size, const Salt& salt, std::uint64_t counter,
                         std::size_t key_index) const {
  if (key_index >= count_ || plain_size > buffer.size()) return 0;
  const Slot& key = keys_[key_index];
  Header h;
  DecodeError error{};
  const std::size_t head = read_header(buffer.first(plain_size), h, error);
  if (head == 0 || (h.flags & ~kKnownHeaderFlags)) return 0;
  const std::size_t trailer = plain_trailer_bytes(h.flags);
  if (plain_size < head + trailer + 1) return 0;
  const std::size_t frames = plain_size - head - trailer;
  const std::size_t sealed = head + kSealNonceBytes + frames + kSealTagBytes;
  if (sealed > buffer.size()) return 0;

  std::uint8_t* p = buffer.data();
  std::uint8_t* nonce = p + head;
  std::uint8_t* body = nonce + kSealNonceBytes;
  std::memmove(body, p + head, frames);
  p[3] = static_cast<std::uint8_t>(kFlagSealed | (h.flags & kFlagConnectionless));  // the header (associated data) says how to read the rest
  put_u32(nonce, key.id);
  std::memcpy(nonce + 4, salt.data(), salt.size());
  put_u64(nonce + 4 + kSaltBytes, counter);
  unsigned long long tag_len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt_detached(body, body + frames, &tag_len, body, frames, p, head, nullptr,
                                                      nonce, key.key.data());
  return sealed;
}

OpenResult Sealer::open(Bytes datagram, MutableBytes plain) const {
  OpenResult r;
  Header h;
  DecodeError error{};
  const std::size_t head = read_header(datagram, h, error);
  if (head == 0) return r;  // Malformed
  if (!(h.flags & kFlagSealed)) {
    r.error = (h.flags & ~kKnownHeaderFlags) ? OpenError::Malformed : OpenError::NotSealed;
    return r;
  }
  if ((h.flags & ~kFlagConnectionless) != kFlagSealed || datagram.size() < head + kSealNonceBytes + 1 + kSealTagBytes) return r;
  const std::uint8_t* nonce = datagram.data() + head;
  r.origin.key_id = get_u32(nonce);
  std::memcpy(r.origin.salt.data(), nonce + 4, kSaltBytes);
  r.origin.counter = get_u64(nonce + 4 + kSaltBytes);
  const Slot* slot = find(r.origin.key_id);
  if (!slot) return r.error = OpenError::UnknownKey, r;
  const std::size_t frames = datagram.size() - head - kSealNonceBytes - kSealTagBytes;
  if (plain.size() < frames) return r;
  const std::uint8_t* body = nonce + kSealNonceBytes;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(plain.data(), nullptr, body, frames, body + frames,
                                                          datagram.data(), head, nonce, slot->key.data()) != 0)
    return r.error = OpenError::BadTag, r;
  r.datagram = DatagramView{h, plain.first(frames)};
  r.key_index = static_cast<std::size_t>(slot - keys_.data());
  return r;
}

}  // namespace hana::protocol
