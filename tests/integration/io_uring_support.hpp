// What the io_uring tests ask of the machine they run on.
#pragma once

#include <liburing.h>

#include <thread>

namespace fastws::testing {

// Whether this kernel lets a process make an io_uring (the backend falls back to epoll if not).
// Asked on a thread of its own: the kernel interrupts a thread that made a ring when the ring
// goes, which would fail a blocking call with a timeout of the test's thread (uring_thread_test).
inline bool kernel_offers_io_uring() {
  bool offered = false;
  std::thread([&] {
    io_uring ring{};
    if (io_uring_queue_init(4, &ring, 0) != 0) return;
    io_uring_queue_exit(&ring);
    offered = true;
  }).join();
  return offered;
}

}  // namespace fastws::testing
