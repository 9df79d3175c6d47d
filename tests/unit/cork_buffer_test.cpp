// The cork with shared bytes referenced among copied ones: what leaves is every byte in the
// order it was added; neighbours in one shared buffer make one iovec; references take room.
#include "connection/cork_buffer.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace fastws::detail {
namespace {

std::vector<std::byte> bytes(std::size_t count, std::size_t seed) {
  std::vector<std::byte> out(count);
  for (std::size_t i = 0; i < count; ++i) out[i] = static_cast<std::byte>((seed * 37 + i) & 0xFF);
  return out;
}

std::vector<std::byte> joined(const GatheredOutput& output) {
  std::vector<std::byte> out;
  for (const iovec& buffer : output.iovecs()) {
    const auto* base = static_cast<const std::byte*>(buffer.iov_base);
    out.insert(out.end(), base, base + buffer.iov_len);
  }
  return out;
}

TEST(CorkBuffer, CopiedAndReferencedBytesLeaveInTheirOrder) {
  const SharedPayload run = make_shared_payload(bytes(3000, 1));
  const std::span<const std::byte> frames(*run);
  const auto a = bytes(10, 2), b = bytes(20, 3);
  CorkBuffer cork;
  cork.append(a);
  ASSERT_TRUE(cork.can_reference({&run, frames.subspan(0, 1000)}));
  cork.reference({&run, frames.subspan(0, 1000)});
  cork.reference({&run, frames.subspan(1000, 1000)});  // joins the first
  cork.append(b);
  cork.reference({&run, frames.subspan(2000, 1000)});  // after copied bytes: a reference of its own
  EXPECT_EQ(cork.room(), CorkBuffer::capacity - 3030) << "references take room";

  GatheredOutput output;
  cork.gather(output);
  ASSERT_EQ(output.count, 4u);  // a, frames 0-1, b, frame 2
  EXPECT_EQ(output.buffers[1].iov_base, run->data()) << "the shared bytes, not a copy";
  EXPECT_EQ(output.buffers[1].iov_len, 2000u);
  EXPECT_EQ(output.owners[0], nullptr);
  EXPECT_EQ(*output.owners[1], run);
  std::vector<std::byte> expected = a;
  expected.insert(expected.end(), frames.begin(), frames.begin() + 2000);
  expected.insert(expected.end(), b.begin(), b.end());
  expected.insert(expected.end(), frames.begin() + 2000, frames.end());
  EXPECT_EQ(joined(output), expected);

  EXPECT_EQ(run.use_count(), 3);
  cork.clear();
  EXPECT_EQ(run.use_count(), 1) << "clear() lets the shared buffer go";
  EXPECT_TRUE(cork.empty());
}

TEST(CorkBuffer, AppendedBytesOfEverySizeLeaveExactly) {
  // Small sizes take inline paths of their own (8 to 16 bytes: two overlapping words).
  CorkBuffer cork;
  std::vector<std::byte> expected;
  for (std::size_t size = 0; size <= 40; ++size) {
    const auto piece = bytes(size, size);
    cork.append(piece);
    expected.insert(expected.end(), piece.begin(), piece.end());
  }
  const std::span<const std::byte> copied = cork.bytes();
  EXPECT_EQ(std::vector<std::byte>(copied.begin(), copied.end()), expected);
}

TEST(CorkBuffer, ARunOfSharedFramesIsOneIovec) {
  const SharedPayload run = make_shared_payload(bytes(32 * 1028, 4));
  const std::span<const std::byte> frames(*run);
  CorkBuffer cork;
  for (std::size_t at = 0; at < frames.size(); at += 1028) {
    ASSERT_TRUE(cork.can_reference({&run, frames.subspan(at, 1028)}));
    cork.reference({&run, frames.subspan(at, 1028)});
  }
  GatheredOutput output;
  cork.gather(output);
  ASSERT_EQ(output.count, 1u) << "one buffer: the socket layer sends it with send()";
  EXPECT_EQ(joined(output), std::vector<std::byte>(frames.begin(), frames.end()));
}

TEST(CorkBuffer, RefusesReferencesBeyondItsRoomItsSlotsAndSmallFrames) {
  CorkBuffer cork;
  const SharedPayload small = make_shared_payload(bytes(CorkBuffer::min_reference - 1, 5));
  EXPECT_FALSE(cork.can_reference(SharedBytes::whole(small))) << "cheaper to copy";
  const SharedPayload huge = make_shared_payload(bytes(CorkBuffer::capacity + 1, 6));
  EXPECT_FALSE(cork.can_reference(SharedBytes::whole(huge))) << "larger than the room";

  // Separate buffers: a slot each, until none is left.
  std::vector<SharedPayload> frames;
  for (std::size_t i = 0; i <= CorkBuffer::max_references; ++i) {
    frames.push_back(make_shared_payload(bytes(CorkBuffer::min_reference, 7)));
  }
  for (std::size_t i = 0; i < CorkBuffer::max_references; ++i) {
    ASSERT_TRUE(cork.can_reference(SharedBytes::whole(frames[i])));
    cork.reference(SharedBytes::whole(frames[i]));
    cork.append(bytes(1, 8));
  }
  EXPECT_FALSE(cork.can_reference(SharedBytes::whole(frames.back())));
  GatheredOutput output;
  cork.gather(output);
  EXPECT_EQ(output.count, 2 * CorkBuffer::max_references);
  EXPECT_LE(output.count, std::size_t{IOV_MAX});
}

}  // namespace
}  // namespace fastws::detail
