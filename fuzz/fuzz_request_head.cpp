// libFuzzer target: HTTP request heads and the server side of the WebSocket handshake.
// Input: one byte choosing where the head is split in two, then the bytes received.
// Properties:
//  1. Parsing, the upgrade check and building the answer never crash (ASan/UBSan).
//  2. The first piece alone parses as partial, or fails exactly as the whole does; a HeadScanner
//     fed the two pieces agrees with one that sees the whole.
//  3. A complete head is no longer than the input; refusals are 400, 431 or 505.
//  4. The answer to a valid upgrade is a complete 101 head, exactly the bytes built, with the
//     right Sec-WebSocket-Accept; a refused upgrade's answer parses back with its status.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/handshake_server.hpp"
#include "protocol/http_parser.hpp"
#include "protocol/permessage_deflate.hpp"

namespace {

using namespace fastws;
using namespace fastws::protocol;

void require(bool condition) {
  if (!condition) std::abort();
}

// Small limits so that the fuzzer reaches them.
constexpr HttpLimits limits{.max_head_size = 4096, .max_headers = 32};

bool same(const HeadParseResult& a, const HeadParseResult& b) {
  return a.status == b.status && a.consumed == b.consumed && a.http_status == b.http_status;
}

void check_split(std::string_view input, std::size_t split, const HeadParseResult& whole) {
  const std::string_view first = input.substr(0, split);
  std::array<HttpHeader, 32> storage;
  Request ignored;
  const HeadParseResult part = parse_request_head(first, ignored, storage, limits);
  require(part.partial() || same(part, whole));

  HeadScanner scanner(limits);
  if (scanner.scan(first).partial())
    require(same(scanner.scan(input), HeadScanner(limits).scan(input)));
}

void touch_accessors(const Request& request) {
  // The accessors must stay inside the buffer whatever the target looks like.
  volatile std::size_t sink = request.path().size() + request.query().size();
  sink = sink + (request.keep_alive() ? 1 : 0) + request.header_count("host");
  (void)sink;
}

void answer(const Request& request) {
  const UpgradeCheck check = check_upgrade_request(request);
  std::string out;
  std::array<HttpHeader, 16> storage;
  ResponseHead head;
  if (!check.ok()) {
    append_rejection(out, check);
    const HeadParseResult parsed = parse_response_head(out, head, storage);
    require(parsed.complete() && head.status_code == check.status);
    require(out.substr(parsed.consumed) == check.reason);
    return;
  }
  static const std::vector<std::string> preferred{"chat", "superchat"};
  const std::string_view subprotocol = choose_subprotocol(preferred, check.subprotocols);
  std::string extensions;
  negotiate_deflate_offer(check.extensions, DeflateConfig{}, extensions);
  require(append_switching_protocols(out, check.key, subprotocol, extensions));
  const HeadParseResult parsed = parse_response_head(out, head, storage);
  require(parsed.complete() && parsed.consumed == out.size() && head.status_code == 101);
  require(find_header(head.headers, "sec-websocket-accept") == compute_accept_key(check.key));
  require(find_header(head.headers, "sec-websocket-protocol") == subprotocol);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::size_t split = input.size() * data[0] / 255;

  std::array<HttpHeader, 32> storage;
  Request request;
  const HeadParseResult whole = parse_request_head(input, request, storage, limits);
  check_split(input, split, whole);
  if (whole.failed()) {
    require(whole.http_status == 400 || whole.http_status == 431 || whole.http_status == 505);
    return 0;
  }
  if (whole.partial()) return 0;
  require(whole.consumed <= input.size() && whole.consumed <= limits.max_head_size);
  touch_accessors(request);
  answer(request);
  return 0;
}
