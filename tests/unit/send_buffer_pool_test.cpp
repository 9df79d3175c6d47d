// The io_uring backend's send buffers: the smallest class that holds a write, buffers given back
// reused last-in first-out within their own class, at most `kept` of them kept, and a pool that
// is exhausted allocating new buffers rather than handing one out twice.
#include "net/send_buffer_pool.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <set>
#include <vector>

namespace fastws::net {
namespace {

constexpr std::array<SendBufferPool::SizeClass, 3> classes{
    {{.capacity = 64, .kept = 4}, {.capacity = 256, .kept = 2}, {.capacity = 1024, .kept = 1}}};

TEST(SendBufferPool, TakesTheSmallestClassThatHoldsTheBytes) {
  SendBufferPool pool(classes);
  EXPECT_EQ(pool.largest(), 1024u);
  EXPECT_EQ(pool.take(0)->capacity, 64u);
  EXPECT_EQ(pool.take(64)->capacity, 64u);
  EXPECT_EQ(pool.take(65)->capacity, 256u);
  EXPECT_EQ(pool.take(1024)->capacity, 1024u);
  EXPECT_EQ(pool.take(5000)->capacity, 1024u) << "more than any holds: the largest class";
  const OwnedSendBuffer buffer = pool.take(10);
  EXPECT_EQ(buffer->start, 0u);
  EXPECT_EQ(buffer->end, 0u);
  EXPECT_EQ(buffer->room(), 64u);
}

TEST(SendBufferPool, BuffersGivenBackAreReusedLastFirstAndComeBackEmpty) {
  SendBufferPool pool(classes);
  OwnedSendBuffer first = pool.take(10);
  OwnedSendBuffer second = pool.take(10);
  SendBuffer* const first_address = first.get();
  SendBuffer* const second_address = second.get();
  first->end = 40;
  first->start = 8;
  pool.give_back(std::move(first));
  pool.give_back(std::move(second));
  EXPECT_EQ(pool.free_count(0), 2u);

  OwnedSendBuffer again = pool.take(10);
  EXPECT_EQ(again.get(), second_address) << "the one given back last comes first";
  OwnedSendBuffer then = pool.take(10);
  EXPECT_EQ(then.get(), first_address);
  EXPECT_EQ(then->start, 0u);
  EXPECT_EQ(then->end, 0u) << "reused buffers come empty";
  EXPECT_EQ(pool.free_count(0), 0u);
}

TEST(SendBufferPool, ClassesKeepTheirOwnBuffers) {
  SendBufferPool pool(classes);
  OwnedSendBuffer medium = pool.take(200);
  SendBuffer* const medium_address = medium.get();
  pool.give_back(std::move(medium));
  EXPECT_EQ(pool.free_count(1), 1u);
  const OwnedSendBuffer small = pool.take(10);
  EXPECT_NE(small.get(), medium_address) << "a small write does not take a medium buffer";
  EXPECT_EQ(small->capacity, 64u);
  EXPECT_EQ(pool.free_count(1), 1u);
  EXPECT_EQ(pool.take(200).get(), medium_address);
}

// More buffers in use at once than the class keeps: each is a distinct buffer whose whole capacity
// is usable (ASan sees an overlap or an overrun), and giving them all back keeps `kept` of them.
TEST(SendBufferPool, AnExhaustedPoolAllocatesAndKeepsOnlyItsShare) {
  SendBufferPool pool(classes);
  std::vector<OwnedSendBuffer> taken;
  std::set<const std::byte*> bytes_seen;
  for (int i = 0; i < 10; ++i) {
    taken.push_back(pool.take(64));
    SendBuffer& buffer = *taken.back();
    std::memset(buffer.bytes(), i, buffer.capacity);
    EXPECT_TRUE(bytes_seen.insert(buffer.bytes()).second) << "buffer " << i << " handed out twice";
  }
  for (int i = 0; i < 10; ++i) {
    const SendBuffer& buffer = *taken[static_cast<std::size_t>(i)];
    for (std::size_t k = 0; k < buffer.capacity; ++k) {
      ASSERT_EQ(buffer.bytes()[k], static_cast<std::byte>(i)) << "buffer " << i << " overwritten";
    }
  }
  for (OwnedSendBuffer& buffer : taken) pool.give_back(std::move(buffer));
  EXPECT_EQ(pool.free_count(0), 4u) << "the class keeps 4; the rest are freed";

  // Taken again: the 4 kept, then new ones, never one twice.
  std::set<SendBuffer*> again;
  std::vector<OwnedSendBuffer> retaken;
  for (int i = 0; i < 6; ++i) {
    retaken.push_back(pool.take(1));
    EXPECT_TRUE(again.insert(retaken.back().get()).second);
  }
  EXPECT_EQ(pool.free_count(0), 0u);
}

}  // namespace
}  // namespace fastws::net
