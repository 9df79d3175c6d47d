// 12.x / 13.x permessage-deflate (RFC 7692): 1000 compressed messages echoed one after the
// other, of each size from 16 octets to 128 KiB, whole or auto-fragmented (the compressed
// payload cut into frames), over five kinds of payload (12.x) and, with the JSON payload, for
// each offer variant: context takeover on or off, a server window of 9 or 15 bits, and a list
// of offers to choose from (13.x). A peer that declines the offer gets UNIMPLEMENTED.
#include <memory>
#include <string>

#include "conformance/case_expectations.hpp"
#include "conformance/catalogue.hpp"
#include "conformance/compressed_messages.hpp"
#include "conformance/compression_corpus.hpp"

namespace fastws::conformance {

namespace {

struct MessageShape {
  std::size_t size;      // code points (text) or octets (binary) per message
  int wait_seconds;      // the case gives up after this
  std::size_t fragment;  // compressed octets per frame, 0: one frame
};

constexpr MessageShape shapes[] = {
    {16, 60, 0},         {64, 60, 0},          {256, 120, 0},      {1024, 240, 0},
    {4096, 480, 0},      {8192, 480, 0},       {16384, 480, 0},    {32768, 480, 0},
    {65536, 480, 0},     {131072, 480, 0},     {8192, 480, 256},   {16384, 480, 256},
    {32768, 480, 256},   {65536, 480, 256},    {131072, 480, 256}, {131072, 480, 1024},
    {131072, 480, 4096}, {131072, 480, 32768},
};
constexpr int messages_per_case = 1000;

struct Progress {
  std::shared_ptr<CompressedMessages> messages;
  std::size_t at = 0;  // where the next message starts in the corpus
  int sent = 0;
  std::string last;  // the message the echo must equal
};

// False when the fuzzer could not compress it (the case has failed the connection then).
bool send_next(CaseRun& run, const CompressionCorpus& corpus, const MessageShape& shape,
               Progress& progress) {
  const std::string* compressed = progress.messages->at(static_cast<std::size_t>(progress.sent));
  if (compressed == nullptr) {
    run.set_behavior(Verdict::failed, "The fuzzer could not compress a message.");
    run.send_close(1011);
    return false;
  }
  progress.last = next_slice(corpus, shape.size, progress.at);
  ++progress.sent;
  run.send_compressed(*compressed, corpus.binary, shape.fragment);
  return true;
}

CaseSpec compression_case(std::string id, std::string offer_words,
                          std::vector<DeflateRequest> offers, std::size_t corpus_index,
                          const MessageShape& shape) {
  return {
      .id = std::move(id),
      .description = "Send " + std::to_string(messages_per_case) +
                     " compressed messages each of payload size " + std::to_string(shape.size) +
                     ", auto-fragment to " + std::to_string(shape.fragment) + " octets. Use " +
                     offer_words,
      .expectation = "Receive echo'ed messages (with payload as sent). Timeout case after " +
                     std::to_string(shape.wait_seconds) + " secs.",
      .deflate = std::move(offers),
      .report_time = true,
      .script = [corpus_index, shape](CaseRun& run) {
        run.set_wirelog(false);
        run.expect_close(normal_close());
        if (!run.compressing()) {
          run.set_behavior(Verdict::unimplemented, "The peer declined permessage-deflate.");
          run.send_close(1000);
          return;
        }
        run.set_behavior(Verdict::failed, "Case did not finish within " +
                                              std::to_string(shape.wait_seconds) + " seconds.");
        const CompressionCorpus& corpus = compression_corpus(corpus_index);
        auto progress = std::make_shared<Progress>();
        progress->messages = compressed_messages(corpus_index, shape.size, run.own_compression());
        run.on_message = [&run, &corpus, shape, progress](const Event& echo) {
          if (echo.binary != corpus.binary) {
            run.set_behavior(Verdict::failed, "Echo'ed message type differs from what I sent.");
          } else if (echo.data.size() != progress->last.size()) {
            run.set_behavior(Verdict::failed,
                             "Echo'ed message length differs from what I sent "
                             "(got " +
                                 std::to_string(echo.data.size()) + ", expected " +
                                 std::to_string(progress->last.size()) + ").");
          } else if (echo.data != progress->last) {
            run.set_behavior(Verdict::failed, "Echo'ed message contents differs from what I sent.");
          } else if (progress->sent < messages_per_case) {
            send_next(run, corpus, shape, *progress);
            return;
          } else {
            run.set_behavior(Verdict::ok, "Ok, received all echo'ed messages in time.");
          }
          run.set_wirelog(true);
          run.send_close(1000);
        };
        if (!send_next(run, corpus, shape, *progress)) return;
        run.close_after(Millis(1000 * shape.wait_seconds));
      }};
}

std::string describe_offers(const std::vector<DeflateRequest>& offers) {
  std::string words = "[";
  for (std::size_t i = 0; i < offers.size(); ++i) {
    words += (i == 0 ? "(" : ", (") +
             std::string(offers[i].request_no_context_takeover ? "True" : "False") + ", " +
             std::to_string(offers[i].request_max_window_bits) + ")";
  }
  return words + "]";
}

}  // namespace

void add_compression_cases(Catalogue& catalogue) {
  for (std::size_t corpus = 0; corpus < compression_corpus_count; ++corpus) {
    for (std::size_t i = 0; i < std::size(shapes); ++i) {
      catalogue.add(compression_case(
          "12." + std::to_string(corpus + 1) + "." + std::to_string(i + 1),
          "default permessage-deflate offer.", {DeflateRequest{}}, corpus, shapes[i]));
    }
  }
  const std::vector<std::vector<DeflateRequest>> offer_variants = {
      {{false, 0}},
      {{true, 0}},
      {{false, 9}},
      {{false, 15}},
      {{true, 9}},
      {{true, 15}},
      {{true, 9}, {true, 0}, {false, 0}},
  };
  for (std::size_t variant = 0; variant < offer_variants.size(); ++variant) {
    const std::vector<DeflateRequest>& offers = offer_variants[variant];
    for (std::size_t i = 0; i < std::size(shapes); ++i) {
      catalogue.add(compression_case(
          "13." + std::to_string(variant + 1) + "." + std::to_string(i + 1),
          "permessage-deflate client offers (requestNoContextTakeover, requestMaxWindowBits): " +
              describe_offers(offers),
          offers, 0, shapes[i]));
    }
  }
}

}  // namespace fastws::conformance
