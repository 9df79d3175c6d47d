#include "net/send_buffer_pool.hpp"

#include <cassert>
#include <new>

namespace fastws::net {

void SendBuffer::Free::operator()(SendBuffer* buffer) const noexcept {
  buffer->~SendBuffer();
  ::operator delete(buffer);
}

SendBufferPool::SendBufferPool(std::span<const SizeClass> classes) {
  assert(!classes.empty() && classes.size() <= 255);
  classes_.reserve(classes.size());
  for (const SizeClass& size_class : classes) {
    classes_.push_back({static_cast<std::uint32_t>(size_class.capacity), size_class.kept});
  }
}

SendBufferPool::~SendBufferPool() {
  for (Class& size_class : classes_) {
    while (SendBuffer* buffer = size_class.free) {
      size_class.free = buffer->next_free;
      OwnedSendBuffer freed(buffer);
    }
  }
}

OwnedSendBuffer SendBufferPool::allocate(std::size_t index) {
  const std::uint32_t capacity = classes_[index].capacity;
  // Header and bytes in one block: SendBuffer's alignment (8) suits the bytes behind it too.
  void* memory = ::operator new(sizeof(SendBuffer) + capacity);
  auto* buffer = new (memory) SendBuffer();
  buffer->capacity = capacity;
  buffer->size_class = static_cast<std::uint8_t>(index);
  return OwnedSendBuffer(buffer);
}

}  // namespace fastws::net
