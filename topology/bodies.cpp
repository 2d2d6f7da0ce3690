// Topology bodies: see bodies.h and docs/wire-format.md ("Topology bodies").
#include "topology/bodies.h"

#include <cstring>

#include "protocol/codec.h"

namespace hana::topology {
namespace {

class Reader {
 public:
  explicit Reader(Bytes in) : in_(in) {}
  bool ok() const { return ok_; }
  bool at_end() const { return pos_ == in_.size(); }
  std::size_t offset() const { return pos_; }
  Bytes consumed_since(std::size_t start) const { return in_.subspan(start, pos_ - start); }
  Bytes rest() const { return in_.subspan(pos_); }
  std::uint8_t u8() {
    if (!ok_ || pos_ + 1 > in_.size()) return fail(), 0;
    return in_[pos_++];
  }
  std::uint16_t u16() {
    if (!ok_ || pos_ + 2 > in_.size()) return fail(), 0;
    const auto v = static_cast<std::uint16_t>(in_[pos_] | (in_[pos_ + 1] << 8));
    pos_ += 2;
    return v;
  }
  std::uint32_t u32() {
    if (!ok_ || pos_ + 4 > in_.size()) return fail(), 0;
    std::uint32_t v = 0;
    for (std::size_t i = 4; i-- > 0;) v = (v << 8) | in_[pos_ + i];
    pos_ += 4;
    return v;
  }
  std::uint64_t u64() {
    if (!ok_ || pos_ + 8 > in_.size()) return fail(), 0;
    std::uint64_t v = 0;
    for (std::size_t i = 8; i-- > 0;) v = (v << 8) | in_[pos_ + i];
    pos_ += 8;
    return v;
  }
  std::uint64_t varint() {
    if (!ok_) return 0;
    std::uint64_t v = 0;
    const std::size_t n = protocol::read_varint(in_.subspan(pos_), v);
    if (n == 0) return fail(), 0;
    pos_ += n;
    return v;
  }
  std::string_view str8(std::size_t max) {
    const std::size_t n = u8();
    if (!ok_ || n > max || n > in_.size() - pos_) return fail(), std::string_view{};
    std::string_view s(reinterpret_cast<const char*>(in_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  Address address() {
    Address a;
    a.family = u8();
    a.port = u16();
    const std::size_t n = a.family == 4 ? 4 : a.family == 6 ? 16 : 0;
    if (n == 0) return fail(), a;
    if (!ok_ || n > in_.size() - pos_) return fail(), a;
    std::memcpy(a.ip.data(), in_.data() + pos_, n);
    pos_ += n;
    return a;
  }
  void fail() { ok_ = false; }

 private:
  Bytes in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

// Signed values as varints: 0, -1, 1, -2, ... -> 0, 1, 2, 3, ... (small either way).
std::uint64_t zigzag(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
std::int64_t unzigzag(std::uint64_t v) {
  return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
}

bool read_item(Reader& r, Update& u) {
  const std::uint8_t kind = r.u8();
  if (!r.ok() || kind == 0 || kind > kMaxUpdateKind) return false;
  u = Update{};
  u.kind = static_cast<UpdateKind>(kind);
  u.node = r.u64();
  u.number = r.varint();
  switch (u.kind) {
    case UpdateKind::Alive: {
      u.address = r.address();
      const std::uint8_t flags = r.u8();
      if (flags & ~0x01u) r.fail();
      u.eligible = (flags & 0x01) != 0;
      u.name = r.str8(kMaxNameBytes);
      break;
    }
    case UpdateKind::Suspect:
    case UpdateKind::Dead: u.from = r.u64(); break;
    case UpdateKind::Left:
    case UpdateKind::Coordinator: break;
    case UpdateKind::Displays: {
      const std::uint8_t n = r.u8();
      if (n > kMaxDisplays) return false;
      u.display_count = n;
      for (std::size_t i = 0; i < n && r.ok(); ++i) {
        auto& d = u.displays[i];
        d.id = r.str8(kMaxDisplayIdBytes);
        const std::uint8_t avail = r.u8();
        if (avail > 1) r.fail();
        d.available = avail == 1;
        d.metadata = r.str8(kMaxDisplayMetaBytes);
      }
      break;
    }
  }
  return r.ok();
}

}  // namespace

bool Update::operator==(const Update& o) const {
  if (kind != o.kind || node != o.node || number != o.number || from != o.from || address != o.address ||
      eligible != o.eligible || name != o.name || display_count != o.display_count)
    return false;
  for (std::size_t i = 0; i < display_count; ++i)
    if (!(displays[i] == o.displays[i])) return false;
  return true;
}

void BodyWriter::u8(std::uint8_t v) {
  if (!ok_ || pos_ + 1 > out_.size()) return void(ok_ = false);
  out_[pos_++] = v;
}
void BodyWriter::u16(std::uint16_t v) {
  u8(static_cast<std::uint8_t>(v));
  u8(static_cast<std::uint8_t>(v >> 8));
}
void BodyWriter::u32(std::uint32_t v) {
  u16(static_cast<std::uint16_t>(v));
  u16(static_cast<std::uint16_t>(v >> 16));
}
void BodyWriter::u64(std::uint64_t v) {
  if (!ok_ || pos_ + 8 > out_.size()) return void(ok_ = false);
  for (std::size_t i = 0; i < 8; ++i) out_[pos_ + i] = static_cast<std::uint8_t>(v >> (8 * i));
  pos_ += 8;
}
void BodyWriter::varint(std::uint64_t v) {
  if (!ok_) return;
  const std::size_t n = protocol::write_varint(out_.subspan(pos_), v);
  if (n == 0) return void(ok_ = false);
  pos_ += n;
}
void BodyWriter::bytes(Bytes b) {
  if (!ok_ || b.size() > out_.size() - pos_) return void(ok_ = false);
  if (!b.empty()) std::memcpy(out_.data() + pos_, b.data(), b.size());
  pos_ += b.size();
}
void BodyWriter::str8(std::string_view s) {
  if (s.size() > 255) return void(ok_ = false);
  u8(static_cast<std::uint8_t>(s.size()));
  bytes(Bytes(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
}
void BodyWriter::address(const Address& a) {
  u8(a.family == 6 ? 6 : 4);
  u16(a.port);
  bytes(Bytes(a.ip.data(), a.family == 6 ? 16 : 4));
}

std::size_t encode_gossip_header(BodyWriter& w, const GossipHeader& h) {
  const bool probe = h.kind == GossipKind::Ping || h.kind == GossipKind::Ack;
  const bool relayed = h.relay_for != 0 && probe;
  const bool timed = h.timed && probe && !relayed;
  const bool mesh_time =
      timed && (h.kind == GossipKind::Ack ? h.has_mesh_time : h.wants_mesh_time);
  w.u8(static_cast<std::uint8_t>(static_cast<std::uint8_t>(h.kind) | (relayed ? kGossipRelayed : 0) |
                                 (timed ? kGossipTimed : 0) | (mesh_time ? kGossipMeshTime : 0)));
  w.u64(h.sender);
  switch (h.kind) {
    case GossipKind::Ping:
    case GossipKind::Ack:
      w.varint(h.seq);
      if (relayed) {
        w.u64(h.target);
        w.u64(h.relay_for);
      }
      if (timed) w.u32(h.t1_low32);
      if (timed && h.kind == GossipKind::Ack) {
        w.varint(h.t2);
        w.varint(h.t3 - h.t2);  // the turnaround: a few bytes where t3 would take eight
      }
      if (mesh_time && h.kind == GossipKind::Ack) {
        w.varint(zigzag(h.mesh_offset_ns));
        w.varint(h.mesh_error_ns);
      }
      break;
    case GossipKind::PingReq:
      w.varint(h.seq);
      w.u64(h.target);
      break;
    case GossipKind::Push: break;
    case GossipKind::View:
      w.varint(h.seq);
      w.varint(h.view_count);
      w.u32(h.view_digest);
      break;
  }
  const std::size_t count_at = w.size();
  w.u8(0);
  return count_at;
}

bool encode_update(BodyWriter& w, const Update& u) {
  const std::size_t start = w.size();
  w.u8(static_cast<std::uint8_t>(u.kind));
  w.u64(u.node);
  w.varint(u.number);
  switch (u.kind) {
    case UpdateKind::Alive:
      w.address(u.address);
      w.u8(u.eligible ? 1 : 0);
      w.str8(u.name.substr(0, kMaxNameBytes));
      break;
    case UpdateKind::Suspect:
    case UpdateKind::Dead: w.u64(u.from); break;
    case UpdateKind::Left:
    case UpdateKind::Coordinator: break;
    case UpdateKind::Displays: {
      const std::size_t n = u.display_count < kMaxDisplays ? u.display_count : kMaxDisplays;
      w.u8(static_cast<std::uint8_t>(n));
      for (std::size_t i = 0; i < n; ++i) {
        w.str8(u.displays[i].id.substr(0, kMaxDisplayIdBytes));
        w.u8(u.displays[i].available ? 1 : 0);
        w.str8(u.displays[i].metadata.substr(0, kMaxDisplayMetaBytes));
      }
      break;
    }
  }
  if (!w.ok()) {
    w.truncate(start);
    return false;
  }
  return true;
}

std::size_t encoded_size(const Update& u) {
  std::size_t n = 1 + 8 + protocol::varint_size(u.number);
  switch (u.kind) {
    case UpdateKind::Alive:
      n += 3 + (u.address.family == 6 ? 16 : 4) + 1 + 1 + std::min(u.name.size(), kMaxNameBytes);
      break;
    case UpdateKind::Suspect:
    case UpdateKind::Dead: n += 8; break;
    case UpdateKind::Left:
    case UpdateKind::Coordinator: break;
    case UpdateKind::Displays:
      n += 1;
      for (std::size_t i = 0; i < u.display_count && i < kMaxDisplays; ++i)
        n += 3 + std::min(u.displays[i].id.size(), kMaxDisplayIdBytes) +
             std::min(u.displays[i].metadata.size(), kMaxDisplayMetaBytes);
      break;
  }
  return n;
}

void encode_beacon(BodyWriter& w, const Beacon& b) {
  w.u64(b.node);
  w.varint(b.incarnation);
  w.u8(static_cast<std::uint8_t>((b.eligible ? 0x01 : 0) | (b.coordinator ? 0x02 : 0)));
  w.varint(b.term);
  w.u64(b.coordinator_id);
  w.address(b.address);
  w.str8(b.name.substr(0, kMaxNameBytes));
  w.varint(b.members);
  w.u8(b.displays);
  w.u8(b.displays_available);
}

bool decode_beacon(Bytes body, Beacon& b) {
  Reader r(body);
  b = Beacon{};
  b.node = r.u64();
  b.incarnation = r.varint();
  const std::uint8_t flags = r.u8();
  if (flags & ~0x03u) return false;
  b.eligible = (flags & 0x01) != 0;
  b.coordinator = (flags & 0x02) != 0;
  b.term = r.varint();
  b.coordinator_id = r.u64();
  b.address = r.address();
  b.name = r.str8(kMaxNameBytes);
  b.members = r.varint();
  b.displays = r.u8();
  b.displays_available = r.u8();
  return r.ok() && r.at_end() && b.node != 0 && b.displays_available <= b.displays;
}

void begin_link_digest(BodyWriter& w) {
  w.u8(static_cast<std::uint8_t>(MeshMessageKind::LinkDigest));
  w.u8(0);
}

std::size_t link_digest_count(Bytes body) { return body.size() >= 2 ? body[1] : 0; }

void write_link_digest_entry(BodyWriter& w, const LinkDigestEntry& e) {
  w.u64(e.peer);
  w.varint(e.version);
  w.varint(e.rtt_us);
  w.varint(e.jitter_us);
  w.varint(e.loss_ppm);
  w.varint(e.throughput_bytes_per_sec);
}

bool add_link_digest_entry(BodyWriter& w, const LinkDigestEntry& e) {
  const std::size_t count = link_digest_count(w.written());
  if (w.size() < 2 || count >= kMaxLinkDigestEntries || w.size() + kMaxLinkDigestEntryBytes > kMaxLinkDigestBytes) return false;
  write_link_digest_entry(w, e);
  if (!w.ok()) return false;
  w.patch_u8(1, static_cast<std::uint8_t>(count + 1));
  return true;
}

namespace {
bool read_item(Reader& r, LinkDigestEntry& e) {
  e.peer = r.u64();
  e.version = r.varint();
  e.rtt_us = r.varint();
  e.jitter_us = r.varint();
  const std::uint64_t loss = r.varint();
  e.throughput_bytes_per_sec = r.varint();
  if (!r.ok() || e.peer == 0 || e.version == 0 || loss > kLossPpmMax) return false;
  e.loss_ppm = static_cast<std::uint32_t>(loss);
  return true;
}
}  // namespace

bool decode_link_digest(Bytes body, LinkDigestView& out) {
  Reader r(body);
  out = LinkDigestView{};
  if (r.u8() != static_cast<std::uint8_t>(MeshMessageKind::LinkDigest)) return false;
  const std::uint8_t count = r.u8();
  if (!r.ok() || count == 0) return false;
  const std::size_t start = r.offset();
  LinkDigestEntry e;
  for (std::uint8_t i = 0; i < count; ++i)
    if (!read_item(r, e)) return false;
  if (!r.at_end()) return false;
  out.count = count;
  out.entries = r.consumed_since(start);
  return true;
}

bool decode_gossip(Bytes body, GossipView& out) {
  Reader r(body);
  out = GossipView{};
  const std::uint8_t kind_byte = r.u8();
  const std::uint8_t kind = kind_byte & 0x0f;
  const bool relayed = (kind_byte & kGossipRelayed) != 0;
  const bool timed = (kind_byte & kGossipTimed) != 0;
  const bool mesh_time = (kind_byte & kGossipMeshTime) != 0;
  if (!r.ok() || (kind_byte & 0x80) != 0 || kind == 0 || kind > kMaxGossipKind) return false;
  GossipHeader& h = out.header;
  h.kind = static_cast<GossipKind>(kind);
  const bool probe = h.kind == GossipKind::Ping || h.kind == GossipKind::Ack;
  // Timestamps only on direct probes: a relayed one's times would include the relay's hops.
  if ((relayed || timed) && !probe) return false;
  if (relayed && timed) return false;
  if (mesh_time && !timed) return false;
  h.timed = timed;
  h.wants_mesh_time = mesh_time && h.kind == GossipKind::Ping;
  h.has_mesh_time = mesh_time && h.kind == GossipKind::Ack;
  h.sender = r.u64();
  switch (h.kind) {
    case GossipKind::Ping:
    case GossipKind::Ack:
      h.seq = r.varint();
      if (relayed) {
        h.target = r.u64();
        h.relay_for = r.u64();
      }
      if (timed) h.t1_low32 = r.u32();
      if (timed && h.kind == GossipKind::Ack) {
        h.t2 = r.varint();
        const std::uint64_t turnaround = r.varint();
        if (turnaround > ~h.t2) return false;  // t3 would wrap
        h.t3 = h.t2 + turnaround;
      }
      if (h.has_mesh_time) {
        h.mesh_offset_ns = unzigzag(r.varint());
        h.mesh_error_ns = r.varint();
      }
      break;
    case GossipKind::PingReq:
      h.seq = r.varint();
      h.target = r.u64();
      break;
    case GossipKind::Push: break;
    case GossipKind::View: {
      h.seq = r.varint();
      const std::uint64_t count = r.varint();
      if (h.seq > 1 || count > UINT32_MAX) return false;
      h.view_count = static_cast<std::uint32_t>(count);
      h.view_digest = r.u32();
      break;
    }
  }
  out.update_count = r.u8();
  if (!r.ok() || h.sender == 0 || (relayed && h.relay_for == 0)) return false;
  const std::size_t start = r.offset();
  Update u;
  for (std::size_t i = 0; i < out.update_count; ++i)
    if (!read_item(r, u)) return false;
  if (!r.at_end()) return false;
  out.updates = r.consumed_since(start);
  return true;
}

// Both kinds' readers validate an item the same way their decoder did, so `next` cannot
// fail on a body the decoder accepted; if it ever did, iteration stops.
template <class Item>
bool ValidatedItems<Item>::next(Item& out) {
  if (left_ == 0) return false;
  Reader r(rest_);
  if (!read_item(r, out)) {
    left_ = 0;
    return false;
  }
  rest_ = r.rest();
  --left_;
  return true;
}
template class ValidatedItems<Update>;
template class ValidatedItems<LinkDigestEntry>;

}  // namespace hana::topology
