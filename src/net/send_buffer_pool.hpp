// Send buffers of the io_uring backend: a socket's output waits in one while the kernel has not
// taken it, so a loop needs one per socket with a send in flight, and a ping-pong server has a
// send in flight on every busy connection at once. Taken and given back once per send, they come
// from size classes (the smallest that fits what is written), each with a free list of the
// buffers given back: after warm-up a send neither allocates nor frees.
//
// A buffer is one allocation, its bytes right behind its header, and the free list runs through
// the headers (no vector of pointers beside it). A class keeps at most `kept` buffers given back;
// more are freed, so a burst of concurrent sends leaves at most sum(capacity * kept) behind.
//
// Threading: one loop's (not thread-safe).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace fastws::net {

// Output waiting for the kernel: bytes [start, end) of bytes() are not taken yet.
struct SendBuffer {
  SendBuffer* next_free = nullptr;  // while in its pool's free list
  std::uint32_t capacity = 0;
  std::uint32_t start = 0;
  std::uint32_t end = 0;
  std::uint8_t size_class = 0;  // index of its class in the pool

  std::byte* bytes() noexcept { return reinterpret_cast<std::byte*>(this + 1); }
  const std::byte* bytes() const noexcept { return reinterpret_cast<const std::byte*>(this + 1); }
  std::uint32_t room() const noexcept { return capacity - end; }
  std::uint32_t pending() const noexcept { return end - start; }

  // Frees a buffer that does not go back to a pool (its owner is destroyed).
  struct Free {
    void operator()(SendBuffer* buffer) const noexcept;
  };
};

using OwnedSendBuffer = std::unique_ptr<SendBuffer, SendBuffer::Free>;

class SendBufferPool {
 public:
  struct SizeClass {
    std::size_t capacity;  // bytes a buffer of the class holds
    std::size_t kept;      // buffers given back that are kept for reuse
  };

  // `classes` by growing capacity (at most 255 of them, each below 4 GiB).
  explicit SendBufferPool(std::span<const SizeClass> classes);
  ~SendBufferPool();
  SendBufferPool(const SendBufferPool&) = delete;
  SendBufferPool& operator=(const SendBufferPool&) = delete;

  // The largest capacity: more than this does not fit any buffer.
  std::size_t largest() const noexcept { return classes_.back().capacity; }

  // An empty buffer of the smallest class holding `bytes` (of the largest one when none does),
  // the one given back last when the class keeps any. Inline: once per send.
  OwnedSendBuffer take(std::size_t bytes) {
    std::size_t index = 0;
    while (bytes > classes_[index].capacity && index + 1 < classes_.size()) ++index;
    Class& chosen = classes_[index];
    SendBuffer* const buffer = chosen.free;
    if (buffer == nullptr) [[unlikely]]
      return allocate(index);
    chosen.free = buffer->next_free;
    --chosen.free_count;
    return OwnedSendBuffer(buffer);
  }
  // Keeps `buffer` for reuse, or frees it when its class keeps enough already.
  void give_back(OwnedSendBuffer buffer) noexcept {
    Class& owner = classes_[buffer->size_class];
    if (owner.free_count >= owner.kept) return;  // freed on the way out
    SendBuffer* const reused = buffer.release();
    reused->start = reused->end = 0;
    reused->next_free = owner.free;
    owner.free = reused;
    ++owner.free_count;
  }

  // Buffers of class `index` waiting for reuse.
  std::size_t free_count(std::size_t index) const noexcept { return classes_[index].free_count; }

 private:
  struct Class {
    std::uint32_t capacity;
    std::size_t kept;
    std::size_t free_count = 0;
    SendBuffer* free = nullptr;  // given back last first
  };

  OwnedSendBuffer allocate(std::size_t index);

  std::vector<Class> classes_;
};

}  // namespace fastws::net
