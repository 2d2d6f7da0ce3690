// protocol::StreamDeframer: datagrams out of a byte stream however it is split, the golden
// bytes of docs/wire-format.md (*TCP framing*), and bad input (junk hello, empty and
// oversized lengths, slow partial frames) ending the stream with a reason.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "protocol/stream_framing.h"

namespace hana::protocol {
namespace {

std::vector<std::uint8_t> hello(std::uint16_t port) {
  std::vector<std::uint8_t> out(kStreamHelloBytes);
  EXPECT_EQ(write_stream_hello(port, out), kStreamHelloBytes);
  return out;
}

void append_frame(std::vector<std::uint8_t>& stream, const std::vector<std::uint8_t>& datagram) {
  std::uint8_t header[kStreamFrameHeaderBytes];
  ASSERT_EQ(write_stream_frame_header(datagram.size(), header), kStreamFrameHeaderBytes);
  stream.insert(stream.end(), header, header + sizeof header);
  stream.insert(stream.end(), datagram.begin(), datagram.end());
}

// Feeds `stream` in reads of at most `chunk` bytes; returns every datagram taken out.
std::vector<std::vector<std::uint8_t>> feed(StreamDeframer& d, const std::vector<std::uint8_t>& stream,
                                            std::size_t chunk, TimeNs now = 1) {
  std::vector<std::vector<std::uint8_t>> out;
  std::size_t pos = 0;
  while (pos < stream.size()) {
    MutableBytes space = d.space();
    if (space.empty()) break;  // in error
    const std::size_t n = std::min({chunk, space.size(), stream.size() - pos});
    std::memcpy(space.data(), stream.data() + pos, n);
    d.commit(n, now);
    pos += n;
    while (auto datagram = d.next()) out.emplace_back(datagram->begin(), datagram->end());
  }
  return out;
}

TEST(StreamFraming, GoldenBytes) {
  // docs/wire-format.md: hello for listen port 7000 (0x1b58), then a 3-byte datagram.
  std::vector<std::uint8_t> stream = hello(7000);
  append_frame(stream, {0xaa, 0xbb, 0xcc});
  const std::vector<std::uint8_t> golden = {'h', 'n', 't', 0x01, 0x1b, 0x58, 0x00, 0x03, 0xaa, 0xbb, 0xcc};
  EXPECT_EQ(stream, golden);
}

TEST(StreamFraming, SameDatagramsHoweverTheStreamIsSplit) {
  std::vector<std::vector<std::uint8_t>> datagrams;
  std::vector<std::uint8_t> stream = hello(4242);
  for (std::size_t i = 0; i < 200; ++i) {
    datagrams.emplace_back(1 + (i * 37) % 1452, static_cast<std::uint8_t>(i));
    append_frame(stream, datagrams.back());
  }
  for (std::size_t chunk : {std::size_t{1}, std::size_t{2}, std::size_t{7}, std::size_t{1000}, std::size_t{1 << 20}}) {
    StreamDeframer d(1452);
    EXPECT_EQ(feed(d, stream, chunk), datagrams) << "chunk " << chunk;
    EXPECT_EQ(d.error(), StreamError::None);
    EXPECT_EQ(d.peer_port(), 4242);
    EXPECT_EQ(d.held_bytes(), 0u);
    EXPECT_EQ(d.partial_since(), 0u);
    EXPECT_EQ(d.frames(), datagrams.size());
  }
}

TEST(StreamFraming, LargestFrameFitsAndOneMoreIsRefused) {
  StreamDeframer ok(65'507);
  std::vector<std::uint8_t> stream = hello(1);
  append_frame(stream, std::vector<std::uint8_t>(65'507, 1));
  EXPECT_EQ(feed(ok, stream, 1 << 20).size(), 1u);

  StreamDeframer small(256);
  stream = hello(1);
  append_frame(stream, std::vector<std::uint8_t>(256, 1));
  append_frame(stream, std::vector<std::uint8_t>(257, 2));
  append_frame(stream, std::vector<std::uint8_t>(10, 3));  // never reached: the stream is over
  EXPECT_EQ(feed(small, stream, 100).size(), 1u);
  EXPECT_EQ(small.error(), StreamError::OversizedFrame);
  EXPECT_TRUE(small.space().empty());
  EXPECT_FALSE(small.next().has_value());
}

TEST(StreamFraming, JunkHelloIsRefusedBeforeAnyFrame) {
  for (std::string junk : {std::string("GET / HTTP/1.1\r\n"), std::string("hnt\x02\x00\x01", 6), std::string("\x00\x05hello", 7)}) {
    StreamDeframer d(1452);
    std::vector<std::uint8_t> stream(junk.begin(), junk.end());
    append_frame(stream, {1, 2, 3});
    EXPECT_TRUE(feed(d, stream, 3).empty()) << junk;
    EXPECT_EQ(d.error(), StreamError::BadHello) << junk;
    EXPECT_FALSE(d.peer_port().has_value());
  }
}

TEST(StreamFraming, ZeroLengthIsJunk) {
  StreamDeframer d(1452);
  std::vector<std::uint8_t> stream = hello(9);
  append_frame(stream, {7});
  stream.push_back(0);
  stream.push_back(0);
  EXPECT_EQ(feed(d, stream, 64).size(), 1u);
  EXPECT_EQ(d.error(), StreamError::EmptyFrame);
}

TEST(StreamFraming, PartialFrameRemembersWhenItBegan) {
  StreamDeframer d(1452);
  std::vector<std::uint8_t> stream = hello(9);
  append_frame(stream, {1, 2, 3});
  append_frame(stream, std::vector<std::uint8_t>(100, 4));
  // Everything but the last 10 bytes at t=5: one datagram out, the second frame held since 5.
  EXPECT_EQ(feed(d, {stream.begin(), stream.end() - 10}, 1 << 20, 5).size(), 1u);
  EXPECT_EQ(d.partial_since(), 5u);
  EXPECT_GT(d.held_bytes(), 0u);
  // A trickle keeps the first time: a slowloris cannot reset its clock byte by byte.
  EXPECT_TRUE(feed(d, {stream.end() - 10, stream.end() - 1}, 1, 50).empty());
  EXPECT_EQ(d.partial_since(), 5u);
  EXPECT_EQ(feed(d, {stream.end() - 1, stream.end()}, 1, 60).size(), 1u);
  EXPECT_EQ(d.partial_since(), 0u);
  // A hello that has not finished arriving is held like a frame.
  StreamDeframer fresh(1452);
  EXPECT_TRUE(feed(fresh, {'h', 'n'}, 1, 7).empty());
  EXPECT_EQ(fresh.partial_since(), 7u);
  EXPECT_FALSE(fresh.hello_done());
}

TEST(StreamFraming, MemoryIsOneBufferHoweverLongTheStream) {
  StreamDeframer d(1452);
  const std::size_t buffer = d.buffer_bytes();
  std::vector<std::uint8_t> stream = hello(9);
  for (int i = 0; i < 5000; ++i) append_frame(stream, std::vector<std::uint8_t>(1452, 1));
  EXPECT_EQ(feed(d, stream, 999).size(), 5000u);
  EXPECT_EQ(d.buffer_bytes(), buffer);
  EXPECT_LE(buffer, 4 * (1452 + kStreamFrameHeaderBytes) + 16'384);
}

TEST(StreamFraming, WritersRefuseWhatTheWireCannotCarry) {
  std::uint8_t out[8];
  EXPECT_EQ(write_stream_frame_header(0, out), 0u);
  EXPECT_EQ(write_stream_frame_header(65'536, out), 0u);
  EXPECT_EQ(write_stream_frame_header(1, MutableBytes{out, 1}), 0u);
  EXPECT_EQ(write_stream_hello(1, MutableBytes{out, 5}), 0u);
}

}  // namespace
}  // namespace hana::protocol
