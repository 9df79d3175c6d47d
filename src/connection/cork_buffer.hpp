// The loop's cork: the output one connection collects until it leaves in one write.
//
// Bytes of our own are copied in. Shared bytes (broadcast frames) are referenced instead, at
// their place among the copied bytes, and neighbours in one shared buffer (a run of broadcasts
// joined once for the whole loop: PreparedRun) merge into one reference: a run of broadcasts
// leaves every subscriber in one send() from the shared buffer, without a memcpy per subscriber.
// Referenced bytes take room like copied ones, so the cork leaves at the same points either way
// (and what the backpressure limit sees does not change).
//
// Threading: the loop thread only.
#pragma once

#include <sys/uio.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

#include "connection/shared_bytes.hpp"
#include "fastws/conn.hpp"
#include "protocol/mask.hpp"

namespace fastws::detail {

struct GatheredOutput;

class CorkBuffer {
 public:
  static constexpr std::size_t capacity = 64 * 1024;
  // Shared bytes are referenced when their buffer holds at least this many from there on; fewer
  // are cheaper to copy than to pass to the kernel as an iovec of their own.
  static constexpr std::size_t min_reference = 512;
  // At most this many references (each makes at most two iovecs, far below IOV_MAX); shared
  // bytes beyond them are copied.
  static constexpr std::size_t max_references = 64;

  CorkBuffer() : bytes_(std::make_unique<std::byte[]>(capacity)) {}
  bool empty() const noexcept { return size_ == 0 && references_count_ == 0; }
  std::size_t room() const noexcept { return capacity - size_ - referenced_bytes_; }
  bool has_references() const noexcept { return references_count_ != 0; }
  // The copied bytes: all of the cork while it has no references.
  std::span<const std::byte> bytes() const noexcept { return {bytes_.get(), size_}; }
  std::byte* tail() noexcept { return bytes_.get() + size_; }
  void grow(std::size_t n) noexcept { size_ += n; }
  void append(std::span<const std::byte> data) noexcept {
    if (data.empty()) return;  // an empty span may carry a null pointer: memcpy must not see it
    copy_bytes(tail(), data.data(), data.size());
    size_ += data.size();
  }
  // Appends a payload: XORed with `mask` (a client's frame), or as it is when mask is null.
  void append_payload(std::span<const std::byte> data, const MaskKey* mask) noexcept {
    if (mask == nullptr) return append(data);
    protocol::copy_masked(tail(), data.data(), data.size(), *mask);
    size_ += data.size();
  }
  // Whether reference() may take `shared`: it fits the room, and it joins the last reference or
  // its buffer reaches far enough for a reference to cost less than a copy, and a slot is free.
  bool can_reference(const SharedBytes& shared) const noexcept {
    if (shared.bytes.size() > room()) return false;
    if (extends_last(shared)) return true;
    return shared.reach() >= min_reference && references_count_ < max_references;
  }
  // Appends `shared` by reference, after the bytes so far (can_reference() said yes).
  void reference(const SharedBytes& shared) noexcept {
    referenced_bytes_ += shared.bytes.size();
    if (extends_last(shared)) {
      references_[references_count_ - 1].size += shared.bytes.size();
      return;
    }
    references_[references_count_++] = {*shared.owner, shared.offset(), shared.bytes.size(), size_};
  }
  // Describes the cork, in order, as iovecs (each reference with its owner).
  void gather(GatheredOutput& out) const noexcept;
  // Inline for the common cork of copied bytes only (twice per echoed message).
  void clear() noexcept {
    size_ = 0;
    referenced_bytes_ = 0;
    if (references_count_ != 0) drop_references();
  }

  // memcpy, with 8 to 16 bytes (a busy server's small messages) as two words inline, the last
  // overlapping the first: a call to memcpy costs more than such a copy.
  static void copy_bytes(std::byte* to, const std::byte* from, std::size_t size) noexcept {
    if (size < 8 || size > 16) {
      std::memcpy(to, from, size);
      return;
    }
    std::uint64_t first_word;
    std::uint64_t last_word;
    std::memcpy(&first_word, from, sizeof first_word);
    std::memcpy(&last_word, from + size - 8, sizeof last_word);
    std::memcpy(to, &first_word, sizeof first_word);
    std::memcpy(to + size - 8, &last_word, sizeof last_word);
  }

 private:
  void drop_references() noexcept;

  struct Reference {
    SharedPayload owner;
    std::size_t offset;  // of the bytes in *owner
    std::size_t size;
    std::size_t at;  // copied bytes before them
  };

  bool extends_last(const SharedBytes& shared) const noexcept {
    if (references_count_ == 0) return false;
    const Reference& last = references_[references_count_ - 1];
    return last.at == size_ && last.owner == *shared.owner &&
           last.offset + last.size == shared.offset();
  }

  std::unique_ptr<std::byte[]> bytes_;
  std::size_t size_ = 0;              // copied bytes
  std::size_t referenced_bytes_ = 0;  // bytes of references
  std::size_t references_count_ = 0;
  std::array<Reference, max_references> references_;
};

// Bytes that leave in one write, in order; owners[i], when set, owns buffers[i], so that what the
// kernel refuses of it can wait by reference rather than as a copy.
struct GatheredOutput {
  static constexpr std::size_t capacity = 2 * CorkBuffer::max_references + 2;

  // Empty bytes are skipped: one buffer must stay one iovec (send() rather than sendmsg()).
  void add(std::span<const std::byte> bytes, const SharedPayload* owner) noexcept {
    if (bytes.empty()) return;
    // writev does not write through iov_base.
    buffers[count] = {const_cast<std::byte*>(bytes.data()), bytes.size()};
    owners[count++] = owner;
  }
  std::span<const iovec> iovecs() const noexcept { return std::span(buffers).first(count); }

  std::array<iovec, capacity> buffers;
  std::array<const SharedPayload*, capacity> owners;
  std::size_t count = 0;
};

}  // namespace fastws::detail
