// InternedText: a short text in 2 bytes, one copy per process in a table.
#include "protocol/interned_text.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace fastws::protocol {
namespace {

TEST(InternedText, GivesBackWhatItWasMadeFromAfterTheOriginalIsGone) {
  auto original = std::make_unique<std::string>("permessage-deflate; client_max_window_bits=10");
  const InternedText text(*original);
  original.reset();
  EXPECT_EQ(text.get(), "permessage-deflate; client_max_window_bits=10");
  EXPECT_EQ(InternedText().get(), "");
  EXPECT_EQ(InternedText("").get(), "");
}

// Equal texts share one copy, on any thread: the views point at the same characters.
TEST(InternedText, EqualTextsShareOneCopy) {
  const std::string answer = "permessage-deflate; server_no_context_takeover";
  const std::string_view first = InternedText(answer).get();
  EXPECT_EQ(InternedText(std::string(answer)).get().data(), first.data());
  EXPECT_NE(InternedText(answer + "; client_no_context_takeover").get().data(), first.data());

  std::vector<std::thread> threads;
  std::vector<const char*> seen(4);
  for (std::size_t i = 0; i < seen.size(); ++i) {
    threads.emplace_back([&, i] { seen[i] = InternedText(answer).get().data(); });
  }
  for (std::thread& thread : threads) thread.join();
  for (const char* data : seen) EXPECT_EQ(data, first.data());
}

}  // namespace
}  // namespace fastws::protocol
