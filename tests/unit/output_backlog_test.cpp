// The output backlog: order across copied and referenced pieces, partial writes anywhere, large
// shared frames referenced rather than copied, small ones copied, and a copied piece that is
// written while it grows does not grow without end.
#include "connection/output_backlog.hpp"

#include <gtest/gtest.h>

#include <numeric>
#include <string>

namespace fastws::detail {
namespace {

std::vector<std::byte> bytes(std::size_t size, unsigned seed) {
  std::vector<std::byte> out(size);
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<std::byte>(i * 31 + seed);
  return out;
}

// Everything the backlog would write, in order, by gathering and consuming `step` at a time.
std::vector<std::byte> drain(OutputBacklog& backlog, std::size_t step) {
  std::vector<std::byte> out;
  while (!backlog.empty()) {
    std::array<iovec, 4> buffers;
    const std::size_t count = backlog.gather(buffers);
    std::size_t taken = 0;
    for (std::size_t i = 0; i < count && taken < step; ++i) {
      const std::size_t n = std::min(step - taken, buffers[i].iov_len);
      const auto* base = static_cast<const std::byte*>(buffers[i].iov_base);
      out.insert(out.end(), base, base + n);
      taken += n;
    }
    backlog.consume(taken);
  }
  return out;
}

TEST(OutputBacklog, KeepsTheOrderOfCopiedAndSharedPiecesAcrossAnyPartialWrite) {
  const auto a = bytes(100, 1), c = bytes(50, 3);
  const SharedPayload shared = make_shared_payload(bytes(5000, 2));
  std::vector<std::byte> expected = a;
  expected.insert(expected.end(), shared->begin() + 10, shared->end());
  expected.insert(expected.end(), c.begin(), c.end());
  expected.insert(expected.end(), shared->begin(), shared->end());
  for (std::size_t step : {1u, 7u, 100u, 4096u, 100000u}) {
    OutputBacklog backlog;
    backlog.append(a);
    backlog.append_shared({&shared, std::span<const std::byte>(*shared).subspan(10)});
    backlog.append(c);
    backlog.append_shared(SharedBytes::whole(shared));
    EXPECT_EQ(backlog.size(), expected.size());
    EXPECT_EQ(drain(backlog, step), expected) << "step " << step;
    EXPECT_EQ(backlog.size(), 0u);
  }
}

TEST(OutputBacklog, LargeSharedFramesAreReferencedNotCopied) {
  const SharedPayload shared = make_shared_payload(bytes(OutputBacklog::min_shared_reference, 4));
  OutputBacklog backlog;
  backlog.append_shared(SharedBytes::whole(shared));
  EXPECT_EQ(shared.use_count(), 2);
  std::array<iovec, 2> buffers;
  ASSERT_EQ(backlog.gather(buffers), 1u);
  EXPECT_EQ(buffers[0].iov_base, shared->data()) << "the bytes are the shared ones";
  backlog.consume(shared->size());
  EXPECT_EQ(shared.use_count(), 1) << "released once written";
}

TEST(OutputBacklog, NeighboursInOneSharedBufferGrowOnePiece) {
  // A run of frames joined in one buffer, appended frame by frame: one reference, however small
  // each frame, and the bytes in order across partial writes.
  const SharedPayload run = make_shared_payload(bytes(OutputBacklog::min_shared_reference * 4, 6));
  const std::span<const std::byte> all(*run);
  const std::size_t frame = OutputBacklog::min_shared_reference;
  for (std::size_t step : {1u, 333u, 100000u}) {
    OutputBacklog backlog;
    for (std::size_t at = 0; at < all.size(); at += frame) {
      backlog.append_shared({&run, all.subspan(at, frame)});
    }
    EXPECT_EQ(run.use_count(), 2) << "one piece holds the whole run";
    std::array<iovec, 4> buffers;
    EXPECT_EQ(backlog.gather(buffers), 1u);
    EXPECT_EQ(drain(backlog, step), *run) << "step " << step;
  }
  // A small first frame is copied (it may be all there is); the next ones follow the copy.
  OutputBacklog backlog;
  backlog.append_shared({&run, all.subspan(0, 10)});
  backlog.append_shared({&run, all.subspan(10, 20)});
  EXPECT_EQ(run.use_count(), 1);
  EXPECT_EQ(drain(backlog, 7), std::vector<std::byte>(all.begin(), all.begin() + 30));
}

TEST(OutputBacklog, SmallSharedFramesAreCopied) {
  const SharedPayload shared =
      make_shared_payload(bytes(OutputBacklog::min_shared_reference - 1, 5));
  OutputBacklog backlog;
  backlog.append_shared(SharedBytes::whole(shared));
  EXPECT_EQ(shared.use_count(), 1);
  EXPECT_EQ(drain(backlog, 1000), *shared);
}

TEST(OutputBacklog, AppendReturnsTheCopyForMaskingInPlace) {
  OutputBacklog backlog;
  backlog.append(bytes(3, 0));
  const std::span<std::byte> copy = backlog.append(bytes(4, 9));
  ASSERT_EQ(copy.size(), 4u);
  copy[0] = std::byte{0xEE};
  const auto all = drain(backlog, 100);
  EXPECT_EQ(all[3], std::byte{0xEE});
}

TEST(OutputBacklog, ACopiedPieceWrittenWhileItGrowsStaysBounded) {
  // A steady trickle: 1 KiB in, 1 KiB out, a million bytes in all, never empty.
  OutputBacklog backlog;
  backlog.append(bytes(1024, 0));
  std::size_t high_water = 0;
  for (int i = 0; i < 1000; ++i) {
    backlog.append(bytes(1024, static_cast<unsigned>(i)));
    backlog.consume(1024);
    high_water = std::max(high_water, backlog.copied_bytes_held());
  }
  EXPECT_EQ(backlog.size(), 1024u);
  EXPECT_LE(high_water, 130u * 1024) << "the written part is compacted away";
}

}  // namespace
}  // namespace fastws::detail
