#include "conformance/compressed_messages.hpp"

#include <cstdint>
#include <map>
#include <tuple>

namespace fastws::conformance {

namespace {

// Sequences no case holds are given up past this. A whole run of the catalogue needs about
// 500 MiB to keep them all (the incompressible corpus of 12.5 is half of it); this keeps those
// of the case group being played, and 12.1's (reused by 13.x) while the groups in between fit.
constexpr std::size_t idle_budget_bytes = std::size_t{256} << 20;

}  // namespace

CompressedMessages::CompressedMessages(const CompressionCorpus& corpus, std::size_t message_size,
                                       const OwnCompression& own)
    : corpus_(corpus), message_size_(message_size), deflater_(own) {}

const std::string* CompressedMessages::at(std::size_t index) {
  const std::lock_guard lock(mutex_);
  while (messages_.size() <= index && !failed_) {
    std::string compressed;
    if (!deflater_.compress(next_slice(corpus_, message_size_, next_slice_at_), compressed)) {
      failed_ = true;
      break;
    }
    compressed.shrink_to_fit();
    bytes_ += compressed.size();
    messages_.push_back(std::move(compressed));
  }
  return index < messages_.size() ? &messages_[index] : nullptr;
}

std::size_t CompressedMessages::size_bytes() {
  const std::lock_guard lock(mutex_);
  return bytes_;
}

std::shared_ptr<CompressedMessages> compressed_messages(std::size_t corpus_index,
                                                        std::size_t message_size,
                                                        const OwnCompression& own) {
  using Key = std::tuple<std::size_t, std::size_t, OwnCompression>;
  struct Kept {
    std::shared_ptr<CompressedMessages> messages;
    std::uint64_t last_used = 0;
  };
  static std::mutex mutex;
  static std::map<Key, Kept> kept;
  static std::uint64_t uses = 0;

  const std::lock_guard lock(mutex);
  Kept& entry = kept[Key{corpus_index, message_size, own}];
  entry.last_used = ++uses;
  if (entry.messages) return entry.messages;
  auto made =
      std::make_shared<CompressedMessages>(compression_corpus(corpus_index), message_size, own);
  entry.messages = made;  // not idle: `made` holds it too
  // Room for the new sequence: give up idle ones (no case holds them), oldest first.
  std::size_t idle_bytes = 0;
  for (auto& [key, other] : kept) {
    if (other.messages.use_count() == 1) idle_bytes += other.messages->size_bytes();
  }
  while (idle_bytes > idle_budget_bytes) {
    auto oldest = kept.end();
    for (auto at = kept.begin(); at != kept.end(); ++at) {
      if (at->second.messages.use_count() == 1 &&
          (oldest == kept.end() || at->second.last_used < oldest->second.last_used)) {
        oldest = at;
      }
    }
    idle_bytes -= oldest->second.messages->size_bytes();
    kept.erase(oldest);
  }
  return made;
}

}  // namespace fastws::conformance
