// The messages of the compression cases, compressed once for all the cases that send them.
// 12.N.M and 13.V.M send the same 1000 messages (the same corpus slices in the same order), and
// so do the shapes of one message size (whole, or cut into frames of any size after compression);
// what our compressor makes of them depends only on those messages and on how it compresses
// (OwnCompression), so the cases that agree on both send the same bytes. Without this the runner
// compressed each of the catalogue's 128 KiB sequences up to 40 times over.
//
// A sequence grows as its first case asks for messages; cases playing at the same time share it.
// Sequences no case holds are kept for later cases up to a memory budget, the least recently used
// given up first.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "conformance/compression_corpus.hpp"
#include "conformance/deflate.hpp"

namespace fastws::conformance {

class CompressedMessages {
 public:
  CompressedMessages(const CompressionCorpus& corpus, std::size_t message_size,
                     const OwnCompression& own);

  // The compressed form (RFC 7692 7.2.1) of message `index` (the first is 0): the index-th
  // next_slice(corpus, message_size, at) from at = 0. Null if zlib failed. The string stays
  // valid while this sequence lives.
  const std::string* at(std::size_t index);

  // Bytes held.
  std::size_t size_bytes();

 private:
  std::mutex mutex_;
  const CompressionCorpus& corpus_;
  std::size_t message_size_;
  OwnDeflater deflater_;
  std::size_t next_slice_at_ = 0;     // where the next message starts in the corpus
  std::deque<std::string> messages_;  // references stay valid as it grows
  std::size_t bytes_ = 0;
  bool failed_ = false;
};

// The sequence of `message_size` messages of corpus `corpus_index` compressed as `own` says,
// made on first use and shared by every case that asks for the same (thread-safe).
std::shared_ptr<CompressedMessages> compressed_messages(std::size_t corpus_index,
                                                        std::size_t message_size,
                                                        const OwnCompression& own);

}  // namespace fastws::conformance
