// protocol::Sealer: round trip, tampering, wrong and unknown keys, key selection with two
// keys, and the golden bytes of docs/wire-format.md ("Sealed datagrams").
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include "protocol/codec.h"
#include "protocol/seal.h"

namespace hana::protocol {
namespace {

PresharedKey key_of(std::uint8_t first) {
  PresharedKey k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(first + i);
  return k;
}
Salt salt_of(std::uint8_t first) {
  Salt s{};
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<std::uint8_t>(first + i);
  return s;
}

Sealer sealer(std::vector<PresharedKey> keys) {
  auto s = Sealer::create(keys);
  EXPECT_TRUE(s.ok());
  return std::move(*s);
}

// Connection 0x11223344, packet 300, one PING (the plain example of docs/wire-format.md).
std::vector<std::uint8_t> ping_datagram(std::uint8_t flags = 0) {
  std::vector<std::uint8_t> buf(256);
  Header h;
  h.flags = flags;
  h.connection_id = 0x11223344;
  h.packet_number = 300;
  DatagramWriter w(buf, buf.size(), h);
  EXPECT_TRUE(w.append(PingFrame{}));
  buf.resize(w.finish());
  return buf;
}

std::vector<std::uint8_t> sealed_ping(const Sealer& s, std::uint64_t counter = 1'000'000) {
  auto d = ping_datagram();
  d.resize(d.size() + kSealOverhead);
  const std::size_t n = s.seal(d, d.size() - kSealOverhead, salt_of(0xa0), counter);
  EXPECT_GT(n, 0u);
  d.resize(n);
  return d;
}

std::string hex(const std::vector<std::uint8_t>& b) {
  std::string out;
  char two[4];
  for (std::size_t i = 0; i < b.size(); ++i) {
    std::snprintf(two, sizeof two, i ? " %02x" : "%02x", b[i]);
    out += two;
  }
  return out;
}

TEST(Seal, RoundTripGivesTheFramesBack) {
  const Sealer s = sealer({key_of(1)});
  const auto d = sealed_ping(s);
  std::vector<std::uint8_t> plain(d.size());
  const OpenResult r = s.open(d, plain);
  ASSERT_TRUE(r.datagram);
  EXPECT_EQ(r.datagram->header.connection_id, 0x11223344u);
  EXPECT_EQ(r.datagram->header.packet_number, 300u);
  EXPECT_EQ(r.datagram->header.flags, kFlagSealed);
  ASSERT_EQ(r.datagram->frames.size(), 1u);
  EXPECT_EQ(r.datagram->frames[0], 0x01);  // PING
  EXPECT_EQ(r.origin.counter, 1'000'000u);
  EXPECT_EQ(r.origin.salt, salt_of(0xa0));
  EXPECT_EQ(r.origin.key_id, key_id_of(key_of(1)));
  // Plain decoding refuses it: an unkeyed node sees an unknown header flag.
  EXPECT_FALSE(decode_datagram(d).datagram);
  EXPECT_EQ(decode_datagram(d).error, DecodeError::UnknownHeaderFlags);
}

TEST(Seal, EveryFlippedBitFailsToOpen) {
  const Sealer s = sealer({key_of(1)});
  const auto d = sealed_ping(s);
  std::vector<std::uint8_t> plain(d.size());
  for (std::size_t byte = 0; byte < d.size(); ++byte)
    for (int bit = 0; bit < 8; ++bit) {
      auto t = d;
      t[byte] ^= static_cast<std::uint8_t>(1u << bit);
      EXPECT_FALSE(s.open(t, plain).datagram) << "byte " << byte << " bit " << bit;
    }
}

TEST(Seal, WrongKeyAndUnsealedAreRefusedWithTheirReason) {
  const Sealer ours = sealer({key_of(1)});
  const Sealer theirs = sealer({key_of(2)});
  const auto d = sealed_ping(theirs);
  std::vector<std::uint8_t> plain(d.size() + 64);
  EXPECT_EQ(ours.open(d, plain).error, OpenError::UnknownKey);
  // The same key id with another key (a forged id): the tag fails.
  auto forged = d;
  const std::uint32_t id = key_id_of(key_of(1));
  for (int i = 0; i < 4; ++i) forged[10 + i] = static_cast<std::uint8_t>(id >> (8 * i));
  EXPECT_EQ(ours.open(forged, plain).error, OpenError::BadTag);
  EXPECT_EQ(ours.open(ping_datagram(), plain).error, OpenError::NotSealed);
  const std::vector<std::uint8_t> garbage(40, 0x5a);
  EXPECT_EQ(ours.open(garbage, plain).error, OpenError::Malformed);
  EXPECT_EQ(ours.open(Bytes(d.data(), 12), plain).error, OpenError::Malformed);
}

TEST(Seal, TwoKeysSealWithTheFirstAndOpenBoth) {
  const PresharedKey old_key = key_of(1), new_key = key_of(2);
  const Sealer rotating = sealer({new_key, old_key});
  const Sealer old_only = sealer({old_key});
  const Sealer new_only = sealer({new_key});
  std::vector<std::uint8_t> plain(256);
  EXPECT_EQ(rotating.send_key_id(), key_id_of(new_key));
  EXPECT_TRUE(rotating.open(sealed_ping(old_only), plain).datagram);
  EXPECT_TRUE(rotating.open(sealed_ping(new_only), plain).datagram);
  const OpenResult r = new_only.open(sealed_ping(rotating), plain);
  ASSERT_TRUE(r.datagram);
  EXPECT_EQ(r.origin.key_id, key_id_of(new_key));
  EXPECT_EQ(old_only.open(sealed_ping(rotating), plain).error, OpenError::UnknownKey);
}

TEST(Seal, CreateRefusesMisuse) {
  EXPECT_FALSE(Sealer::create({}).ok());
  const std::vector<PresharedKey> same{key_of(1), key_of(1)};
  EXPECT_FALSE(Sealer::create(same).ok());
  const std::vector<PresharedKey> three{key_of(1), key_of(2), key_of(3)};
  EXPECT_FALSE(Sealer::create(three).ok());
}

TEST(Seal, DoesNotFitIsZero) {
  const Sealer s = sealer({key_of(1)});
  auto d = ping_datagram();
  EXPECT_EQ(s.seal(d, d.size(), salt_of(0), 1), 0u);  // no room for nonce and tag
}

// docs/wire-format.md "Sealed datagrams": key 00 01 .. 1f, salt a0 .. ab, counter 1 000 000,
// the PING datagram of connection 0x11223344, packet 300. The bytes were checked against an
// independent XChaCha20-Poly1305 (HChaCha20 in Python over the `cryptography` package's
// ChaCha20Poly1305) and hashlib's BLAKE2b for the key id; the wire version 2 bytes against
// libsodium's crypto_aead_xchacha20poly1305_ietf_encrypt_detached called directly.
TEST(Seal, GoldenBytes) {
  const Sealer s = sealer({key_of(0)});
  EXPECT_EQ(key_id_of(key_of(0)), 0x98c806afu);
  EXPECT_EQ(hex(sealed_ping(s)),
            "68 6e 02 02 44 33 22 11 ac 02 af 06 c8 98 a0 a1 a2 a3 a4 a5 a6 a7 a8 a9 aa ab 40 42 0f 00 00 00 00 00 "
            "0e 84 4e 38 d4 29 7e 1d 7a 75 be ec 1a ca 9b 0a eb");
}

// The same key, salt and counter over a connectionless datagram (the timed PING gossip of
// docs/wire-format.md): the header keeps its CONNECTIONLESS bit (flags 06), and opening
// gives back a header with connection id and packet number 0.
TEST(Seal, GoldenBytesConnectionless) {
  const Sealer s = sealer({key_of(0)});
  const std::vector<std::uint8_t> body = {0x61, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02,
                                          0x01, 0xac, 0x02, 0xe8, 0x03, 0x00, 0x00, 0x00};
  std::vector<std::uint8_t> d(256);
  Header h;
  h.flags = kFlagShortChecksum | kFlagConnectionless;
  DatagramWriter w(d, d.size(), h);
  ASSERT_TRUE(w.append(GossipFrame{Bytes(body)}));
  const std::size_t plain = w.finish();
  ASSERT_EQ(plain, 26u);
  const std::size_t n = s.seal(d, plain, salt_of(0xa0), 1'000'000);
  ASSERT_EQ(n, plain + kSealOverhead - 4);
  d.resize(n);
  EXPECT_EQ(hex(d),
            "68 6e 02 06 af 06 c8 98 a0 a1 a2 a3 a4 a5 a6 a7 a8 a9 aa ab 40 42 0f 00 00 00 00 00 "
            "08 f7 2f 3b 84 96 73 a0 f5 a8 c9 a3 da b9 29 3f c2 dc "
            "9d a2 bd c0 38 e3 7d b2 54 45 60 09 e2 55 96 a2");
  std::vector<std::uint8_t> out(256);
  const OpenResult r = s.open(d, out);
  ASSERT_TRUE(r.datagram);
  EXPECT_EQ(r.datagram->header.connection_id, kConnectionlessId);
  EXPECT_EQ(r.datagram->header.flags, kFlagSealed | kFlagConnectionless);
  EXPECT_EQ(r.datagram->frames.size(), 2u + body.size());
}

}  // namespace
}  // namespace hana::protocol
