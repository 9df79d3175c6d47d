// Bytes the allocator handed out and did not get back, on every thread: what a server in the
// test process really holds, whatever the allocator keeps of the memory freed.
//
// Sanitizers replace the allocator (mallinfo2 sees nothing of it) and ASan keeps freed memory in
// quarantine: there the live heap comes from the sanitizer, and an RSS bound means little.
#pragma once

#include <malloc.h>

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define FASTWS_SANITIZED_ALLOCATOR 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define FASTWS_SANITIZED_ALLOCATOR 1
#endif
#endif
#ifdef FASTWS_SANITIZED_ALLOCATOR
// From sanitizer/allocator_interface.h, which not every compiler installs.
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();
#endif

namespace fastws::test {

#ifdef FASTWS_SANITIZED_ALLOCATOR
inline constexpr bool sanitized_allocator = true;
#else
inline constexpr bool sanitized_allocator = false;
#endif

inline std::size_t live_heap() {
#ifdef FASTWS_SANITIZED_ALLOCATOR
  return __sanitizer_get_current_allocated_bytes();
#else
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
#endif
}

}  // namespace fastws::test
