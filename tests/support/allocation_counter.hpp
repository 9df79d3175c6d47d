// Counts heap allocations made by the calling thread, to prove "no allocation" claims.
//
// Replaces the global operator new/delete, so include it in exactly one translation unit of a
// test program (every test program is a single file here). Per thread, so that gtest or other
// threads allocating meanwhile do not disturb a measurement.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>

namespace fastws::test {

inline thread_local std::size_t allocations_on_this_thread = 0;

// Allocations made by this thread while `body` runs.
template <typename Body>
std::size_t count_allocations(Body&& body) {
  const std::size_t before = allocations_on_this_thread;
  body();
  return allocations_on_this_thread - before;
}

}  // namespace fastws::test

void* operator new(std::size_t size) {
  ++fastws::test::allocations_on_this_thread;
  if (void* memory = std::malloc(size == 0 ? 1 : size)) return memory;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
  return ::operator new(size);
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  ++fastws::test::allocations_on_this_thread;
  return std::malloc(size == 0 ? 1 : size);
}
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept {
  return ::operator new(size, tag);
}
// Not inlined: g++ would otherwise see free() meet a pointer from operator new at the call site
// and warn (-Wmismatched-new-delete) about a pairing that is right here.
[[gnu::noinline]] void operator delete(void* memory) noexcept {
  std::free(memory);
}
[[gnu::noinline]] void operator delete[](void* memory) noexcept {
  std::free(memory);
}
[[gnu::noinline]] void operator delete(void* memory, std::size_t) noexcept {
  std::free(memory);
}
[[gnu::noinline]] void operator delete[](void* memory, std::size_t) noexcept {
  std::free(memory);
}
