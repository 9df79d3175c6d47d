// The chat example in real headless browsers (Debian's Chromium and Firefox ESR): two windows
// chat through the page's own UI (tests/browser/chat_in_browsers.py), so the server's HTTP
// page, its WebSocket handshake with real browsers, rooms and presence are checked end to end.
// Screenshots of the pages land in FASTWS_BINARY_DIR/test-artifacts/.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "support/command_output.hpp"

namespace {

const std::string chat_binary = FASTWS_BINARY_DIR "/examples/chat";
const std::string artifacts_dir = FASTWS_BINARY_DIR "/test-artifacts";
const std::string script = FASTWS_TEST_DATA_DIR "/browser/chat_in_browsers.py";

bool is_executable(const std::string& path) {
  return ::access(path.c_str(), X_OK) == 0;
}

// Runs the script for one browser and returns its exit status, with its output in `output`.
// coreutils `timeout` bounds the run: SIGTERM after 200 s (two browser starts of up to 60 s
// each, then the steps) lets the script kill its browsers; SIGKILL follows if that takes 25 s
// more. ctest's own limit (scripts/test.sh) is 300 s.
int run_script(const std::string& browser, std::string& output) {
  const std::string command = "timeout -k 25 200 /usr/bin/python3 " + script + " " + chat_binary +
                              " " + artifacts_dir + " " + browser + " 2>&1";
  return fastws::test::run_command(command, output);
}

bool starts_with_png_signature(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::string head(8, '\0');
  return file.read(head.data(), 8) && head == "\x89PNG\r\n\x1a\n";
}

void chat_in(const std::string& browser, const std::vector<std::string>& programs) {
  if (!is_executable(chat_binary)) {
    GTEST_SKIP() << chat_binary << " is not built (configured with -DFASTWS_BUILD_EXAMPLES=OFF?)";
  }
  for (const std::string& program : programs) {
    if (!is_executable(program)) GTEST_SKIP() << program << " is not installed";
  }
  // Screenshots of an earlier run must not pass for this one's.
  const std::vector<std::string> screenshots = {artifacts_dir + "/chat-" + browser + "-ann.png",
                                                artifacts_dir + "/chat-" + browser + "-bob.png"};
  for (const std::string& path : screenshots) std::filesystem::remove(path);

  std::string output;
  EXPECT_EQ(run_script(browser, output), 0) << output;
  EXPECT_NE(output.find("ok   " + browser + ": all steps"), std::string::npos) << output;
  for (const std::string& path : screenshots) {
    EXPECT_TRUE(starts_with_png_signature(path)) << path << " is missing or not a PNG";
  }
}

TEST(ChatBrowser, Chromium) {
  chat_in("chromium", {"/usr/bin/python3", "/usr/bin/chromium", "/usr/bin/chromedriver"});
}

TEST(ChatBrowser, Firefox) {
  chat_in("firefox", {"/usr/bin/python3", "/usr/bin/firefox-esr"});
}

}  // namespace
