// Bodies of BEACON and GOSSIP frames (the codec frames them with a length; this file
// gives the bytes inside). docs/wire-format.md, "Topology bodies", is the reference.
// Little-endian, bounds-checked; decoding never allocates (strings are views into
// the datagram) and rejects anything out of range, with trailing bytes, or truncated.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "hana/address.h"
#include "hana/types.h"
#include "protocol/frames.h"

namespace hana::topology {

using protocol::Bytes;
using protocol::MutableBytes;

inline constexpr std::size_t kMaxNameBytes = 32;
inline constexpr std::size_t kMaxDisplays = 8;
inline constexpr std::size_t kMaxDisplayIdBytes = 32;
inline constexpr std::size_t kMaxDisplayMetaBytes = 64;
inline constexpr std::size_t kMaxUpdatesPerBody = 255;

enum class GossipKind : std::uint8_t {
  Ping = 1,     // "are you alive?" (direct, or relayed for an indirect probe)
  Ack = 2,      // answer to a Ping (relayed back to the requester of an indirect probe)
  PingReq = 3,  // "please probe `target` for me" (SWIM indirect probe)
  Push = 4,     // updates only (event broadcast, suspicion notice, state sync)
  View = 5,     // "this is my view" (count and digest of the live members): anti-entropy
};
inline constexpr std::uint8_t kMaxGossipKind = 5;
inline constexpr std::uint8_t kGossipRelayed = 0x10;  // flag in the kind byte
// Ping/Ack carry the clock timestamps of the mesh clock (topology/clock_sync.h).
inline constexpr std::uint8_t kGossipTimed = 0x20;
// Timed Ack: carries the responder's mesh time (mesh minus its clock, and its bound).
// Timed Ping: asks for it (only the coordinator a node follows is asked: nobody else's
// mesh time is used, and it costs an idle ack 4 to 10 bytes).
inline constexpr std::uint8_t kGossipMeshTime = 0x40;

enum class UpdateKind : std::uint8_t {
  Alive = 1,
  Suspect = 2,
  Dead = 3,
  Left = 4,
  Coordinator = 5,  // node = coordinator, number = term
  Displays = 6,     // node = owner, number = version of its display list
};
inline constexpr std::uint8_t kMaxUpdateKind = 6;

struct WireDisplay {
  std::string_view id;
  bool available = true;
  std::string_view metadata;
  bool operator==(const WireDisplay&) const = default;
};

// One membership fact. Which fields are on the wire depends on `kind`.
struct Update {
  UpdateKind kind = UpdateKind::Alive;
  NodeId node = 0;
  std::uint64_t number = 0;  // incarnation (Alive..Left), term (Coordinator), version (Displays)
  NodeId from = 0;           // Suspect, Dead: the node that declared it
  Address address;           // Alive
  bool eligible = true;      // Alive: may become coordinator
  std::string_view name;     // Alive
  std::uint8_t display_count = 0;
  std::array<WireDisplay, kMaxDisplays> displays{};
  bool operator==(const Update& o) const;
};

struct GossipHeader {
  GossipKind kind = GossipKind::Push;
  NodeId sender = 0;
  std::uint64_t seq = 0;  // Ping, Ack, PingReq; View: 0 = a check, 1 = the answer to one
  // Relayed Ping: who must answer; PingReq: whom to probe; relayed Ack: who answered. Not on
  // the wire of a direct Ping/Ack: the Ack's sender says who answered, and the prober counts
  // only an answer from the member it probed.
  NodeId target = 0;
  NodeId relay_for = 0;   // relayed Ping/Ack: the requester of the indirect probe (0 = direct)
  // Mesh clock (Ping/Ack with `timed`): Ping: t1 = the prober's clock at sending, of which
  // only the low 32 bits travel (`t1_low32`; they wrap every 4.29 s, far longer than any
  // answer worth a sample: the prober restores the rest from its own clock). Ack: t1's low
  // bits echoed, t2/t3 = the responder's clock when the Ping arrived / the Ack left.
  bool timed = false;
  std::uint32_t t1_low32 = 0;
  TimeNs t2 = 0, t3 = 0;
  // Timed Ping: asks the responder for its mesh time.
  bool wants_mesh_time = false;
  // Timed Ack: the responder's mesh time is synced; mesh minus its clock, and the bound.
  bool has_mesh_time = false;
  std::int64_t mesh_offset_ns = 0;
  std::uint64_t mesh_error_ns = 0;
  // View: how many live members (self included) the sender holds, and a digest of their ids.
  std::uint32_t view_count = 0;
  std::uint32_t view_digest = 0;
  bool operator==(const GossipHeader&) const = default;
};

struct Beacon {
  NodeId node = 0;
  std::uint64_t incarnation = 0;
  bool eligible = true;
  bool coordinator = false;
  std::uint64_t term = 0;  // term of the claim the sender follows (0 = none)
  NodeId coordinator_id = 0;
  Address address;         // where to reach the sender
  std::string_view name;
  std::uint64_t members = 0;  // size of the sender's live view
  std::uint8_t displays = 0;
  std::uint8_t displays_available = 0;
  bool operator==(const Beacon&) const = default;
};

// Bounds-checked appender; the first overflow sticks (ok() false).
class BodyWriter {
 public:
  explicit BodyWriter(MutableBytes out) : out_(out) {}
  bool ok() const { return ok_; }
  std::size_t size() const { return pos_; }
  Bytes written() const { return Bytes(out_.data(), pos_); }
  void u8(std::uint8_t v);
  void u16(std::uint16_t v);
  void u32(std::uint32_t v);
  void u64(std::uint64_t v);
  void varint(std::uint64_t v);
  void bytes(Bytes b);
  void str8(std::string_view s);  // u8 length + bytes
  void address(const Address& a);
  // Rolls back to an earlier size (used to undo an update that did not fit).
  void truncate(std::size_t size) {
    pos_ = size < pos_ ? size : pos_;
    ok_ = true;
  }
  // Patches one byte already written.
  void patch_u8(std::size_t at, std::uint8_t v) {
    if (at < pos_) out_[at] = v;
  }

 private:
  MutableBytes out_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

// Writes the header and a zero update count; returns the offset of the count byte.
std::size_t encode_gossip_header(BodyWriter& w, const GossipHeader& h);
// Appends one update all-or-nothing; false (writer unchanged) if it did not fit.
bool encode_update(BodyWriter& w, const Update& u);
std::size_t encoded_size(const Update& u);
void encode_beacon(BodyWriter& w, const Beacon& b);

struct GossipView {
  GossipHeader header;
  std::uint8_t update_count = 0;
  Bytes updates;  // validated; iterate with UpdateReader
};
// Validates the whole body (header and every update); false on any malformation.
bool decode_gossip(Bytes body, GossipView& out);
bool decode_beacon(Bytes body, Beacon& out);

// Iterates the `count` items of a body its decoder validated whole (so reading cannot
// fail); instantiated in bodies.cpp for each kind of item.
template <class Item>
class ValidatedItems {
 public:
  ValidatedItems(Bytes items, std::uint8_t count) : rest_(items), left_(count) {}
  bool next(Item& out);

 private:
  Bytes rest_;
  std::uint8_t left_;
};
// ---- Mesh-internal messages (DATA frames with kDataMesh over a peer's connection) ----
enum class MeshMessageKind : std::uint8_t {
  // 1 was LINK_REPORT (one link per message; replaced by the digest, issue 18)
  LinkDigest = 2,  // the sender's measured link quality to several peers
};
inline constexpr std::uint32_t kLossPpmMax = 1'000'000;

// One link the sender (the observer: the connection's peer) measured to `peer`.
// `version` is the observer's increasing report counter at the time the link last
// changed: a receiver keeps per (observer, peer) the entry with the highest version, so
// digests may arrive in any order.
struct LinkDigestEntry {
  NodeId peer = 0;
  std::uint64_t version = 0;
  std::uint64_t rtt_us = 0;
  std::uint64_t jitter_us = 0;
  std::uint32_t loss_ppm = 0;  // loss rate in parts per million (0..1'000'000)
  std::uint64_t throughput_bytes_per_sec = 0;
  bool operator==(const LinkDigestEntry&) const = default;
};
// The largest entry: peer u64 and five varints of at most 10 bytes.
inline constexpr std::size_t kMaxLinkDigestEntryBytes = 8 + 5 * 10;
// A digest's body is kept to one base-size datagram, so a table of 100 links is two
// messages and never fragments (count byte: at most 255 entries).
inline constexpr std::size_t kMaxLinkDigestBytes = 1200;
inline constexpr std::size_t kMaxLinkDigestEntries = 255;

// One entry as it goes on the wire, unbounded (add_link_digest_entry keeps the bound).
void write_link_digest_entry(BodyWriter& w, const LinkDigestEntry& e);
// Writes kind and a zero count; add entries with add_link_digest_entry.
void begin_link_digest(BodyWriter& w);
// Appends one entry if a worst-case entry still fits in kMaxLinkDigestBytes and the
// count is below kMaxLinkDigestEntries (the digest starts at offset 0 of w); false if not.
bool add_link_digest_entry(BodyWriter& w, const LinkDigestEntry& e);
std::size_t link_digest_count(Bytes body);  // entries written so far (body from begin_link_digest)

struct LinkDigestView {
  std::uint8_t count = 0;
  Bytes entries;  // validated; iterate with LinkDigestReader
};
// Validates kind, count (at least one), every entry (peer not 0, loss in range) and that
// nothing trails; never allocates.
bool decode_link_digest(Bytes body, LinkDigestView& out);
extern template class ValidatedItems<Update>;
extern template class ValidatedItems<LinkDigestEntry>;

class LinkDigestReader : public ValidatedItems<LinkDigestEntry> {
 public:
  explicit LinkDigestReader(const LinkDigestView& view) : ValidatedItems(view.entries, view.count) {}
};

// Iterates the updates of a validated GossipView.
class UpdateReader : public ValidatedItems<Update> {
 public:
  explicit UpdateReader(const GossipView& view) : ValidatedItems(view.updates, view.update_count) {}
};

}  // namespace hana::topology
