// What the io_uring tests ask of the machine they run on.
#pragma once

#include <liburing.h>

namespace fastws::testing {

// Whether this kernel lets a process make an io_uring (the backend falls back to epoll if not).
inline bool kernel_offers_io_uring() {
  io_uring ring{};
  if (io_uring_queue_init(4, &ring, 0) != 0) return false;
  io_uring_queue_exit(&ring);
  return true;
}

}  // namespace fastws::testing
