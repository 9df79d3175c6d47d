// fastws against the WebSocket of real headless browsers (Debian's Chromium and Firefox ESR):
// the interop echo server serves tests/browser/interop_page.html, whose script runs echo checks
// of every length class up to 16 MiB (text and binary), multi-byte UTF-8, a fragmented message
// from the server, the server's ping answered by the browser, permessage-deflate (browsers
// always offer it; the server accepts), the subprotocol, and closes with a code both ways; over
// ws:// and over wss:// (the browsers' own TLS against the server's).
// tests/browser/interop_in_browser.py drives the browser and prints the page's checks.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "interop_echo_server.hpp"

namespace fastws::testing {
namespace {

const std::string browser_dir = FASTWS_TEST_DATA_DIR "/browser";

std::string read_page() {
  std::ifstream file(browser_dir + "/interop_page.html");
  std::stringstream page;
  page << file.rdbuf();
  return page.str();
}

// `secure`: the page and the WebSocket over TLS (https://, wss://), with the test certificate,
// which the browsers are told to accept.
void run_in(const std::string& browser, const std::vector<std::string>& programs,
            bool secure = false) {
  for (const std::string& program : programs) {
    if (::access(program.c_str(), X_OK) != 0) GTEST_SKIP() << program << " is not installed";
  }
  const std::string page = read_page();
  ASSERT_FALSE(page.empty()) << browser_dir << "/interop_page.html is missing";
  InteropEchoServer server(interop_server_options(/*compress=*/true, secure), page);
  // The script's own bound is 150 s for the page plus up to 60 s for the browser to start.
  expect_peer_passes("/usr/bin/python3 " + browser_dir + "/interop_in_browser.py " +
                         (secure ? "https" : "http") +
                         "://127.0.0.1:" + std::to_string(server.port()) + "/ " + browser,
                     {"ok   binary echo of 16777216 bytes", "ok   permessage-deflate negotiated",
                      "ok   fragmented message from the server reassembled",
                      "ok   server's ping answered with a pong",
                      "ok   close 4000 from the browser, echoed by the server",
                      "ok   server-initiated close 4001"},
                     240);
}

TEST(BrowserInterop, Chromium) {
  run_in("chromium", {"/usr/bin/chromium", "/usr/bin/chromedriver"});
}

TEST(BrowserInterop, Firefox) {
  run_in("firefox", {"/usr/bin/firefox-esr"});
}

TEST(BrowserInterop, ChromiumOverTls) {
  run_in("chromium", {"/usr/bin/chromium", "/usr/bin/chromedriver"}, /*secure=*/true);
}

TEST(BrowserInterop, FirefoxOverTls) {
  run_in("firefox", {"/usr/bin/firefox-esr"}, /*secure=*/true);
}

}  // namespace
}  // namespace fastws::testing
