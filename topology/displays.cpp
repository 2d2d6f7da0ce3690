// Display availability: this node's own displays (announced as gossip with a version)
// and what each member announced, masked while the member is Dead or Left.
#include <algorithm>

#include "topology/mesh_impl.h"

namespace hana::topology {

void Mesh::Impl::on_displays(const Update& u) {
  if (u.node == self.id) return;
  auto it = index.find(u.node);
  if (it == index.end()) return;
  AnnouncedDisplays& a = peers[it->second].announced;
  if (u.number <= a.version) return;
  a.version = u.number;
  a.displays.clear();
  for (std::size_t d = 0; d < u.display_count; ++d)
    a.displays.push_back(Display{std::string(u.displays[d].id), u.displays[d].available, std::string(u.displays[d].metadata)});
  refresh_displays(it->second);
  enqueue_gossip(u.node, Entry::Displays);
}

// Member.displays is the announced list, with every display unavailable while the member
// is Dead or Left (a display wall must not route to a dead node's screens); it comes back
// as announced when the member does. One event per availability change; a display first
// seen (while its owner is live) gets one too.
void Mesh::Impl::refresh_displays(std::uint32_t i) {
  Member& m = members[i];
  const bool live = is_live(m.state);
  std::vector<Display> next = peers[i].announced.displays;
  for (auto& d : next) {
    if (!live) d.available = false;
    auto old = std::find_if(m.displays.begin(), m.displays.end(), [&](const Display& x) { return x.id == d.id; });
    if (old == m.displays.end() ? live : old->available != d.available)
      events.push_back(DisplayAvailability{m.id, d.id, d.available, d.metadata});
  }
  for (const auto& old : m.displays) {
    const bool still = std::any_of(next.begin(), next.end(), [&](const Display& x) { return x.id == old.id; });
    if (!still && old.available) events.push_back(DisplayAvailability{m.id, old.id, false, old.metadata});
  }
  m.displays = std::move(next);
}

void Mesh::Impl::set_own_displays(std::vector<Display> displays, TimeNs now) {
  if (displays.size() > kMaxDisplays) displays.resize(kMaxDisplays);
  for (auto& d : displays) {
    if (d.id.size() > kMaxDisplayIdBytes) d.id.resize(kMaxDisplayIdBytes);
    if (d.metadata.size() > kMaxDisplayMetaBytes) d.metadata.resize(kMaxDisplayMetaBytes);
  }
  self.displays = std::move(displays);
  display_version = std::max(display_version + 1, now / kNsPerMs);
  enqueue_gossip(self.id, Entry::Displays);
  push_to_all(self.id, Entry::Displays, false);
}

}  // namespace hana::topology
