// Mask keys for client frames (RFC 6455 5.3: unpredictable, from a strong source of entropy):
// per-thread keystreams that differ between threads and between a process and its forked child,
// and whose output looks uniform across refills.
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "protocol/mask_key.hpp"

namespace fastws::protocol {
namespace {

// More keys than one refill holds (2,048), so each sequence crosses refills.
constexpr std::size_t keys_drawn = 3 * 2048 + 5;

std::vector<MaskKey> draw_keys(std::size_t count) {
  std::vector<MaskKey> keys(count);
  for (MaskKey& key : keys) key = random_mask_key();
  return keys;
}

TEST(MaskKey, OutputLooksUniformAcrossRefills) {
  const std::vector<MaskKey> keys = draw_keys(keys_drawn);
  std::array<std::size_t, 256> histogram{};
  for (const MaskKey& key : keys) {
    for (std::byte b : key) ++histogram[static_cast<unsigned>(b)];
  }
  // 4 * 6,149 bytes over 256 values: about 96 each. A stuck or zeroed generator fails this at
  // once; a uniform one falls outside [40, 160] with a probability far below 1e-9.
  for (std::size_t value = 0; value < histogram.size(); ++value) {
    EXPECT_GT(histogram[value], 40u) << "byte value " << value;
    EXPECT_LT(histogram[value], 160u) << "byte value " << value;
  }
}

TEST(MaskKey, TwoThreadsDrawDifferentSequences) {
  std::vector<MaskKey> first;
  std::vector<MaskKey> second;
  std::thread one([&] { first = draw_keys(64); });
  std::thread two([&] { second = draw_keys(64); });
  one.join();
  two.join();
  EXPECT_NE(0, std::memcmp(first.data(), second.data(), first.size() * sizeof(MaskKey)));
}

TEST(MaskKey, AForkedChildDoesNotRepeatItsParentsKeys) {
  random_mask_key();  // the parent's keystream exists before the fork
  int pipe_fds[2];
  ASSERT_EQ(0, ::pipe(pipe_fds));
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const std::vector<MaskKey> keys = draw_keys(keys_drawn);
    const auto* bytes = reinterpret_cast<const char*>(keys.data());
    std::size_t left = keys.size() * sizeof(MaskKey);
    while (left > 0) {
      const ssize_t wrote = ::write(pipe_fds[1], bytes, left);
      if (wrote <= 0) ::_exit(1);
      bytes += wrote;
      left -= static_cast<std::size_t>(wrote);
    }
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  const std::vector<MaskKey> parent_keys = draw_keys(keys_drawn);
  std::vector<MaskKey> child_keys(keys_drawn);
  auto* bytes = reinterpret_cast<char*>(child_keys.data());
  std::size_t left = child_keys.size() * sizeof(MaskKey);
  while (left > 0) {
    const ssize_t got = ::read(pipe_fds[0], bytes, left);
    ASSERT_GT(got, 0) << "the child sent fewer keys than it drew";
    bytes += got;
    left -= static_cast<std::size_t>(got);
  }
  ::close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(child, ::waitpid(child, &status, 0));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  // Key by key: a copied keystream would make every pair equal; independent ones make about
  // 6,149 / 2^32 equal.
  std::size_t equal = 0;
  for (std::size_t i = 0; i < keys_drawn; ++i) {
    if (parent_keys[i] == child_keys[i]) ++equal;
  }
  EXPECT_LT(equal, 3u) << "the child repeats its parent's mask keys";
}

// take_pooled_mask_key() is random_mask_key() without the refill (for a path that must make no
// call): it takes the pool's keys in turn and says no once they are spent, without refilling;
// random_mask_key() then refills the pool, which holds 2,048 keys again.
TEST(MaskKey, APooledKeyIsRefusedOnlyOnceThePoolIsSpent) {
  constexpr std::size_t pool_keys = 2048;
  random_mask_key();  // the pool holds keys now
  MaskKey key{};
  std::size_t taken = 0;
  while (taken <= pool_keys && take_pooled_mask_key(key)) ++taken;
  EXPECT_LT(taken, pool_keys);
  EXPECT_FALSE(take_pooled_mask_key(key)) << "a spent pool gave a key";
  const MaskKey refilled = random_mask_key();
  std::vector<MaskKey> keys{refilled};
  while (keys.size() <= pool_keys && take_pooled_mask_key(key)) keys.push_back(key);
  EXPECT_EQ(keys.size(), pool_keys);
  // Taken in turn: a pool handing out one key again and again would give 2,047 equal pairs.
  std::size_t repeats = 0;
  for (std::size_t i = 1; i < keys.size(); ++i) {
    if (keys[i] == keys[i - 1]) ++repeats;
  }
  EXPECT_LT(repeats, 3u);
}

}  // namespace
}  // namespace fastws::protocol
