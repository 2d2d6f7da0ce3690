// DisplayGroupUpdate / DisplaySync encoding: golden bytes, round trips, every error.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <vector>

#include "hana/display_types.h"

namespace hana {
namespace {

using ByteVec = std::vector<std::uint8_t>;

DisplayGroupUpdate sample_update() {
  DisplayGroupUpdate u;
  u.group_id = "g1";
  u.position = {1.0f, 2.0f, -3.5f};
  u.rotation = {1.0f, 0.0f, 0.0f, 0.0f};
  u.timestamp_us = 0x0102030405060708ull;
  u.version = 7;
  u.author = 0x1112131415161718ull;
  u.apply_at_us = 300;
  return u;
}

DisplaySync sample_sync() {
  DisplaySync s;
  s.display_id = "wall-left";
  s.status = DisplayStatus::Degraded;
  s.version = 300;
  s.author = 5;
  s.timestamp_us = 1234567;
  s.apply_at_us = 1250234;
  s.windows.push_back({42, {-10, 20, 1920, 1080}, 3, true});
  s.windows.push_back({43, {0, 0, 640, 480}, -1, false});
  return s;
}

template <class T>
ByteVec encode(const T& msg) {
  ByteVec buf(kMaxDisplaySyncBytes);
  auto n = encode_display_message(msg, buf);
  EXPECT_TRUE(n.ok());
  buf.resize(n.ok() ? *n : 0);
  return buf;
}

TEST(DisplayCodec, GroupUpdateGoldenBytes) {
  const ByteVec golden = {0x01, 0x03, 0x02, 'g', '1',
                          0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x60, 0xc0,  // position
                          0x00, 0x00, 0x80, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,              // rotation
                          0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,                          // timestamp
                          0x07, 0x00, 0x00, 0x00,                                                  // version
                          0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11,                          // author
                          0xac, 0x02};                                                             // apply_at 300
  EXPECT_EQ(encode(sample_update()), golden);
  DisplayGroupUpdate back;
  DisplayDecodeError err{};
  ASSERT_TRUE(decode_display_message(golden, back, err)) << to_string(err);
  EXPECT_EQ(back, sample_update());
}

TEST(DisplayCodec, DisplaySyncRoundTrip) {
  const ByteVec bytes = encode(sample_sync());
  DisplayMessageType type{};
  ASSERT_TRUE(peek_display_message_type(bytes, type));
  EXPECT_EQ(type, DisplayMessageType::DisplaySync);
  DisplaySync back;
  DisplayDecodeError err{};
  ASSERT_TRUE(decode_display_message(bytes, back, err)) << to_string(err);
  EXPECT_EQ(back, sample_sync());
}

TEST(DisplayCodec, MaxSizedSyncFitsTheBound) {
  DisplaySync s;
  s.display_id = std::string(kMaxDisplayIdBytes, 'd');
  s.timestamp_us = ~0ull;
  s.apply_at_us = ~0ull;  // the longest varint
  for (std::size_t i = 0; i < kMaxWindowsPerDisplay; ++i)
    s.windows.push_back({~0ull, {-1, -1, ~0u, ~0u}, -1, true});
  ByteVec buf(kMaxDisplaySyncBytes);
  auto n = encode_display_message(s, buf);
  ASSERT_TRUE(n.ok());
  EXPECT_LE(*n, kMaxDisplaySyncBytes);
}

TEST(DisplayCodec, ApiErrorsAreClear) {
  ByteVec buf(kMaxDisplaySyncBytes);
  DisplayGroupUpdate u = sample_update();
  u.group_id = std::string(65, 'x');
  auto r1 = encode_display_message(u, buf);
  ASSERT_FALSE(r1.ok());
  EXPECT_EQ(r1.error().code, Errc::InvalidArgument);
  u = sample_update();
  u.position.x = NAN;
  EXPECT_EQ(encode_display_message(u, buf).error().code, Errc::InvalidArgument);
  DisplaySync s = sample_sync();
  s.windows.resize(kMaxWindowsPerDisplay + 1);
  EXPECT_EQ(encode_display_message(s, buf).error().code, Errc::InvalidArgument);
  ByteVec tiny(10);
  EXPECT_EQ(encode_display_message(sample_update(), tiny).error().code, Errc::BufferTooSmall);
}

DisplayDecodeError sync_error(const ByteVec& bytes) {
  DisplaySync s;
  DisplayDecodeError err{};
  EXPECT_FALSE(decode_display_message(bytes, s, err));
  return err;
}

DisplayDecodeError update_error(const ByteVec& bytes) {
  DisplayGroupUpdate u;
  DisplayDecodeError err{};
  EXPECT_FALSE(decode_display_message(bytes, u, err));
  return err;
}

TEST(DisplayDecode, EveryTruncationIsTruncated) {
  const ByteVec good = encode(sample_sync());
  for (std::size_t n = 0; n < good.size(); ++n)
    EXPECT_EQ(sync_error(ByteVec(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n))),
              DisplayDecodeError::Truncated)
        << n;
}

TEST(DisplayDecode, WrongTypeAndVersion) {
  ByteVec b = encode(sample_update());
  EXPECT_EQ(sync_error(b), DisplayDecodeError::UnknownType);
  b[1] = 1;  // encoding 1 had no author id: refused rather than misread
  EXPECT_EQ(update_error(b), DisplayDecodeError::UnknownVersion);
  b[1] = 2;  // encoding 2 had no apply_at (and DisplaySync no timestamp)
  EXPECT_EQ(update_error(b), DisplayDecodeError::UnknownVersion);
  b[1] = 4;
  EXPECT_EQ(update_error(b), DisplayDecodeError::UnknownVersion);
}

TEST(DisplayDecode, IdTooLong) {
  ByteVec b = encode(sample_update());
  b[2] = 65;
  EXPECT_EQ(update_error(b), DisplayDecodeError::IdTooLong);
}

TEST(DisplayDecode, NonFiniteFloat) {
  ByteVec b = encode(sample_update());
  b[5] = 0x00, b[6] = 0x00, b[7] = 0xc0, b[8] = 0x7f;  // NaN as position.x
  EXPECT_EQ(update_error(b), DisplayDecodeError::BadFloat);
}

TEST(DisplayDecode, BadStatusTooManyWindowsBadFlagsTrailing) {
  const ByteVec good = encode(sample_sync());
  const std::size_t status_at = 3 + sample_sync().display_id.size();
  ByteVec b = good;
  b[status_at] = 9;
  EXPECT_EQ(sync_error(b), DisplayDecodeError::BadStatus);
  b = good;
  const std::size_t count_at = status_at + 1 + 4 + 8;  // after status, version and author
  b[count_at] = 0x81, b.insert(b.begin() + static_cast<std::ptrdiff_t>(count_at + 1), 0x02);  // 257 windows
  EXPECT_EQ(sync_error(b), DisplayDecodeError::TooManyWindows);
  b = good;
  b.back() = 2;  // last window's visible flag
  EXPECT_EQ(sync_error(b), DisplayDecodeError::BadFlags);
  b = good;
  b.push_back(0);
  EXPECT_EQ(sync_error(b), DisplayDecodeError::TrailingBytes);
}

// The fuzz target's seeds must stay valid bodies of the current encoding, or fuzzing starts
// from nothing but decode errors.
TEST(DisplayCodec, FuzzCorpusSeedsDecodeAndReencodeIdentically) {
  for (const char* name : {"group_update", "display_sync"}) {
    std::ifstream in(std::string(HANA_SOURCE_DIR) + "/fuzz/corpus/display_message/" + name, std::ios::binary);
    ASSERT_TRUE(in) << name;
    const ByteVec seed{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    DisplayDecodeError err{};
    ByteVec again;
    if (std::string_view(name) == "group_update") {
      DisplayGroupUpdate u;
      ASSERT_TRUE(decode_display_message(seed, u, err)) << name << ": " << to_string(err);
      EXPECT_NE(u.author, 0u);
      again = encode(u);
    } else {
      DisplaySync s;
      ASSERT_TRUE(decode_display_message(seed, s, err)) << name << ": " << to_string(err);
      EXPECT_NE(s.author, 0u);
      again = encode(s);
    }
    EXPECT_EQ(again, seed) << name;
  }
}

TEST(DisplayKey, DependsOnTypeAndId) {
  EXPECT_NE(display_key(DisplayMessageType::GroupUpdate, "a"), display_key(DisplayMessageType::DisplaySync, "a"));
  EXPECT_NE(display_key(DisplayMessageType::GroupUpdate, "a"), display_key(DisplayMessageType::GroupUpdate, "b"));
  EXPECT_EQ(display_key(DisplayMessageType::GroupUpdate, "a"), display_key(DisplayMessageType::GroupUpdate, "a"));
}

}  // namespace
}  // namespace hana
