// The shared streams of permessage-deflate without context takeover: the Deflaters and Inflaters
// of one thread (one event loop's connections) take turns with one zlib state, reset between
// messages, so their output is a fresh stream's; one that holds the state mid-message keeps it
// and the others get their own meanwhile; settings that differ never share; each thread has its
// own. Whether a state was set up anew shows as an allocation (the State object; zlib's own
// memory comes from malloc, which is not counted). And the buffers the thread lends.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "protocol/permessage_deflate.hpp"
#include "support/allocation_counter.hpp"

namespace fastws::protocol {
namespace {

using Bytes = std::vector<std::byte>;
using fastws::test::count_allocations;

// `size` bytes of words from a small vocabulary: compressible, different for each `variant`.
Bytes words(std::size_t size, unsigned variant) {
  static constexpr const char* vocabulary[] = {"red ",     "green ",  "blue ",  "cyan ",
                                               "magenta ", "yellow ", "black ", "white "};
  std::string text;
  std::uint32_t state = 2654435761u * (variant + 1);
  while (text.size() < size) {
    state = state * 1664525u + 1013904223u;
    text += vocabulary[state >> 29];
  }
  text.resize(size);
  const auto* data = reinterpret_cast<const std::byte*>(text.data());
  return {data, data + size};
}

// What a fresh raw deflate stream makes of one whole message (RFC 7692 7.2.1: sync flush, tail
// removed): the bytes every message of a no-context-takeover Deflater must equal.
Bytes fresh_stream(const Bytes& message, int level = 6, int window_bits = 15) {
  z_stream stream{};
  EXPECT_EQ(deflateInit2(&stream, level, Z_DEFLATED, -window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
  Bytes out(deflateBound(&stream, message.size()) + 16);
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(message.data()));
  stream.avail_in = static_cast<uInt>(message.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&stream, Z_SYNC_FLUSH), Z_OK);
  out.resize(out.size() - stream.avail_out - 4);
  deflateEnd(&stream);
  return out;
}

// Compresses a whole message into `out`, whose capacity is reserved first: the only allocation
// compress() may then make is a new zlib state.
std::size_t allocations_to_compress(Deflater& deflater, const Bytes& message, Bytes& out) {
  out.clear();
  out.reserve(message.size() + 1024);
  return count_allocations([&] { EXPECT_TRUE(deflater.compress(message, true, out)); });
}

std::size_t allocations_to_inflate(Inflater& inflater, const Bytes& payload, Bytes& out) {
  out.clear();
  out.reserve(64 * 1024);
  return count_allocations(
      [&] { EXPECT_EQ(inflater.decompress(payload, true, out, 1u << 20), Inflater::Status::ok); });
}

// Connections of one thread (each its own Deflater) compress with the states the first one set
// up (one per size of stream, see below): after it, no state is set up again, and every message
// is a fresh stream's bytes.
TEST(SharedDeflater, ConnectionsOfAThreadTakeTurnsWithOneState) {
  const Bytes message = words(3000, 1);
  Bytes out;
  Deflater first(15, /*no_context_takeover=*/true, 6, 8);
  allocations_to_compress(first, message, out);  // may set the thread's states up
  EXPECT_EQ(out, fresh_stream(message));
  for (unsigned connection = 0; connection < 8; ++connection) {
    allocations_to_compress(first, words(1000 + 500 * connection, connection), out);
  }
  for (unsigned connection = 0; connection < 8; ++connection) {
    Deflater deflater(15, true, 6, 8);
    const Bytes own = words(1000 + 500 * connection, connection);
    EXPECT_EQ(allocations_to_compress(deflater, own, out), 0u) << "connection " << connection;
    EXPECT_EQ(out, fresh_stream(own)) << "connection " << connection;
    // Its second message too: nothing of the first is referred to.
    EXPECT_EQ(allocations_to_compress(deflater, message, out), 0u);
    EXPECT_EQ(out, fresh_stream(message));
  }
}

// A whole message gets a stream no larger than it needs (a window that holds it, and a hash
// table to match: resetting it is the cost per message) and still comes out as the negotiated
// window's fresh stream would make it, at every size up to and past the largest smaller window,
// and at each window's edge. A 1 KiB message after a 40 KB one sets up a state of its own (one
// stream for all sizes would have none to set up), which the next 1 KiB message finds.
TEST(SharedDeflater, AWholeMessageGetsAStreamSizedForIt) {
  Bytes out;
  std::thread([] {  // a thread of its own: no states set up yet
    Bytes thread_out;
    Deflater large(15, true, 6, 8);
    EXPECT_EQ(allocations_to_compress(large, words(40000, 10), thread_out), 1u);
    Deflater small(15, true, 6, 8);
    EXPECT_EQ(allocations_to_compress(small, words(1024, 11), thread_out), 1u)
        << "a stream of its size";
    EXPECT_EQ(allocations_to_compress(small, words(1024, 12), thread_out), 0u);
    EXPECT_EQ(thread_out, fresh_stream(words(1024, 12)));
  })
      .join();

  constexpr std::size_t sizes[] = {0,     1,     100,   250,   251,   762,  763,
                                   1024,  1786,  1787,  3834,  3835,  7930, 7931,
                                   16122, 16123, 32506, 32507, 40000, 70000};
  for (std::size_t size : sizes) {
    Deflater deflater(15, true, 6, 8);
    const Bytes message = words(size, static_cast<unsigned>(size));
    out.clear();
    ASSERT_TRUE(deflater.compress(message, true, out));
    EXPECT_EQ(out, fresh_stream(message)) << size << " bytes";
    // Repetitive text: matches at every distance the message has.
    Bytes repeated = words(size / 2, 13);
    repeated.insert(repeated.end(), repeated.begin(), repeated.end());
    out.clear();
    ASSERT_TRUE(deflater.compress(repeated, true, out));
    EXPECT_EQ(out, fresh_stream(repeated)) << size << " bytes, repeated";
  }
}

// A message streamed in pieces holds the state between its pieces: another connection compressing
// meanwhile gets a state of its own (and is not disturbed), the streamed message decodes whole,
// and afterwards the thread again has a state ready.
TEST(SharedDeflater, AStreamedMessageHoldsTheStateUntilItsEnd) {
  const Bytes part1 = words(4000, 2);
  const Bytes part2 = words(4000, 3);
  const Bytes other = words(40000, 4);  // too large for a smaller window
  Bytes out;
  Deflater warm(15, true, 6, 8);
  allocations_to_compress(warm, other, out);  // the negotiated window's stream

  Deflater streaming(15, true, 6, 8);
  Bytes streamed;
  streamed.reserve(16 * 1024);
  EXPECT_EQ(count_allocations([&] { EXPECT_TRUE(streaming.compress(part1, false, streamed)); }), 0u)
      << "the first piece takes the thread's state";
  Deflater meanwhile(15, true, 6, 8);
  EXPECT_EQ(allocations_to_compress(meanwhile, other, out), 1u) << "a state of its own";
  EXPECT_EQ(out, fresh_stream(other));
  ASSERT_TRUE(streaming.compress(part2, true, streamed));

  Inflater inflater(15, true);
  Bytes inflated;
  ASSERT_EQ(inflater.decompress(streamed, true, inflated, 1u << 20), Inflater::Status::ok);
  Bytes whole = part1;
  whole.insert(whole.end(), part2.begin(), part2.end());
  EXPECT_EQ(inflated, whole);

  Deflater after(15, true, 6, 8);
  EXPECT_EQ(allocations_to_compress(after, other, out), 0u) << "one of the two was kept";
  EXPECT_EQ(out, fresh_stream(other));
}

// A state is shared only by Deflaters of the same window, level and memLevel.
TEST(SharedDeflater, DifferentSettingsDoNotShare) {
  const Bytes message = words(3000, 5);
  Bytes out;
  Deflater level6(15, true, 6, 8);
  allocations_to_compress(level6, message, out);

  Deflater window10(10, true, 6, 8);
  allocations_to_compress(window10, message, out);  // may set up that window's state
  EXPECT_EQ(out, fresh_stream(message, 6, 10));
  Deflater window10_again(10, true, 6, 8);
  EXPECT_EQ(allocations_to_compress(window10_again, message, out), 0u);
  EXPECT_EQ(out, fresh_stream(message, 6, 10));

  Deflater level1(15, true, 1, 8);
  EXPECT_EQ(allocations_to_compress(level1, message, out), 1u);
  EXPECT_EQ(out, fresh_stream(message, 1));
  Deflater level6_again(15, true, 6, 8);
  EXPECT_EQ(allocations_to_compress(level6_again, message, out), 0u) << "still the thread's";
  EXPECT_EQ(out, fresh_stream(message, 6));
}

// With context takeover every Deflater keeps a state of its own: its messages refer to earlier
// ones (the second message of the same text is shorter than a fresh stream's).
TEST(SharedDeflater, ContextTakeoverKeepsAStatePerConnection) {
  const Bytes message = words(3000, 6);
  Bytes out;
  Deflater one(15, false, 6, 8);
  Deflater two(15, false, 6, 8);
  EXPECT_EQ(allocations_to_compress(one, message, out), 1u);
  EXPECT_EQ(allocations_to_compress(two, message, out), 1u);
  EXPECT_EQ(allocations_to_compress(one, message, out), 0u);
  EXPECT_LT(out.size(), fresh_stream(message).size() / 4);
}

// Each thread has its own state: another thread sets one up for itself, and its output is the
// same.
TEST(SharedDeflater, EachThreadHasItsOwnState) {
  const Bytes message = words(3000, 7);
  Bytes out;
  Deflater here(15, true, 6, 8);
  allocations_to_compress(here, message, out);
  std::size_t there_allocations = 0;
  Bytes there_out;
  std::thread([&] {
    Deflater there(15, true, 6, 8);
    there_allocations = allocations_to_compress(there, message, there_out);
  }).join();
  EXPECT_EQ(there_allocations, 1u);
  EXPECT_EQ(there_out, out);
}

// Inflaters of one thread whose peers drop their context share one state the same way; one that
// inflates a message over several calls holds it meanwhile.
TEST(SharedInflater, ConnectionsOfAThreadTakeTurnsWithOneState) {
  const Bytes message = words(20000, 8);
  const Bytes payload = fresh_stream(message);
  Bytes out;
  Inflater first(15, /*no_context_takeover=*/true);
  allocations_to_inflate(first, payload, out);
  EXPECT_EQ(out, message);
  for (unsigned connection = 0; connection < 8; ++connection) {
    Inflater inflater(15, true);
    EXPECT_EQ(allocations_to_inflate(inflater, payload, out), 0u) << "connection " << connection;
    EXPECT_EQ(out, message);
  }

  Inflater in_pieces(15, true);
  Bytes pieces_out;
  pieces_out.reserve(64 * 1024);
  const std::size_t half = payload.size() / 2;
  ASSERT_EQ(in_pieces.decompress(std::span(payload).first(half), false, pieces_out, 1u << 20),
            Inflater::Status::ok);
  Inflater meanwhile(15, true);
  EXPECT_EQ(allocations_to_inflate(meanwhile, payload, out), 1u) << "a state of its own";
  EXPECT_EQ(out, message);
  ASSERT_EQ(in_pieces.decompress(std::span(payload).subspan(half), true, pieces_out, 1u << 20),
            Inflater::Status::ok);
  EXPECT_EQ(pieces_out, message);

  Inflater after(15, true);
  EXPECT_EQ(allocations_to_inflate(after, payload, out), 0u);
  EXPECT_EQ(out, message);
}

// A peer that keeps its context needs an inflater that keeps it too: no sharing.
TEST(SharedInflater, ContextTakeoverKeepsAStatePerConnection) {
  const Bytes payload = fresh_stream(words(2000, 9));
  Bytes out;
  Inflater one(15, false);
  Inflater two(15, false);
  EXPECT_EQ(allocations_to_inflate(one, payload, out), 1u);
  EXPECT_EQ(allocations_to_inflate(two, payload, out), 1u);
}

// The thread's buffers: lent with their capacity, empty to a second borrower while lent, and
// not kept above max_kept_thread_buffer.
TEST(ThreadBuffers, LentOneAtATimeAndKeptWhenSmall) {
  for (ThreadBuffer which : {ThreadBuffer::deflate_output, ThreadBuffer::inflate_output}) {
    Bytes buffer = take_thread_buffer(which);
    buffer.resize(5000);
    const std::byte* storage = buffer.data();
    give_back_thread_buffer(which, std::move(buffer));

    Bytes lent = take_thread_buffer(which);
    EXPECT_EQ(lent.data(), storage);
    EXPECT_TRUE(lent.empty());
    EXPECT_GE(lent.capacity(), 5000u);
    Bytes second = take_thread_buffer(which);
    EXPECT_EQ(second.capacity(), 0u) << "lent out already";
    second.resize(100);
    give_back_thread_buffer(which, std::move(second));
    give_back_thread_buffer(which, std::move(lent));  // the thread has one: this one is freed
    EXPECT_EQ(take_thread_buffer(which).capacity(), 100u);

    Bytes large(max_kept_thread_buffer + 1);
    give_back_thread_buffer(which, std::move(large));
    EXPECT_EQ(take_thread_buffer(which).capacity(), 0u) << "too large to keep";
  }
  // The two kinds are separate: an inflated message and the compressed echo of it coexist.
  Bytes inflate_out(10);
  Bytes deflate_out(20);
  give_back_thread_buffer(ThreadBuffer::inflate_output, std::move(inflate_out));
  give_back_thread_buffer(ThreadBuffer::deflate_output, std::move(deflate_out));
  EXPECT_EQ(take_thread_buffer(ThreadBuffer::inflate_output).capacity(), 10u);
  EXPECT_EQ(take_thread_buffer(ThreadBuffer::deflate_output).capacity(), 20u);
}

}  // namespace
}  // namespace fastws::protocol
