#include "engine/backend.h"

namespace hana::engine {

Result<std::unique_ptr<Backend>> make_backend(BackendKind kind, const UdpSocket& socket,
                                              const BackendOptions& options, Counters& counters) {
  switch (kind) {
    case BackendKind::Uring: return make_uring_backend(socket, options, counters);
    case BackendKind::Epoll: return make_epoll_backend(socket, options, counters);
    case BackendKind::Auto: break;
  }
  auto uring = make_uring_backend(socket, options, counters);
  if (uring) return uring;
  return make_epoll_backend(socket, options, counters);
}

}  // namespace hana::engine
