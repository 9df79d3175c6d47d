// A seam for tests: make the n-th socket read or write fail, or come up short, so that every
// error path of the connection code runs (the way Beast re-runs its tests failing the n-th I/O
// step). read_some() and write_vectored() consult the hook, and on io_uring the poller for each
// delivery of received bytes; while none is set (always, outside tests) that costs one atomic
// load (a plain load on x86) and one predictable branch per call.
//
// Threading: the hook is called on the event loop threads, concurrently when there are several
// loops; set it while no loop is inside a read or write you care about.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>

namespace fastws::net::testing {

enum class IoOperation : std::uint8_t { read, write };

// What the hook decides for one call.
struct IoFault {
  int error = 0;                     // not 0: the call fails with this errno, the socket untouched
  std::size_t max_bytes = SIZE_MAX;  // less than asked: a short read or write of at most this
};

using IoFaultHook = IoFault (*)(IoOperation operation, int fd);

inline std::atomic<IoFaultHook> installed_io_fault_hook{nullptr};

// Installs `hook` for every socket of the process; nullptr removes it.
inline void set_io_fault_hook(IoFaultHook hook) noexcept {
  installed_io_fault_hook.store(hook, std::memory_order_release);
}
inline IoFaultHook io_fault_hook() noexcept {
  return installed_io_fault_hook.load(std::memory_order_acquire);
}

// The first `max_bytes` of `buffers`, described in `storage` (at most storage.size() buffers):
// what a short gathered write gets to send.
std::span<const iovec> first_bytes(std::span<const iovec> buffers, std::size_t max_bytes,
                                   std::span<iovec> storage) noexcept;

}  // namespace fastws::net::testing
