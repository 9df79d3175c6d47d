// The chat example in real headless browsers (Debian's Chromium and Firefox ESR): two windows
// chat through the page's own UI (tests/browser/chat_in_browsers.py), so the server's HTTP
// page, its WebSocket handshake with real browsers, rooms and presence are checked end to end.
// Each browser runs the page against examples/chat (fastws serves everything) and against
// examples/beast_server (Boost.Beast serves the page and upgrades /ws to fastws).
// Screenshots of the pages land in FASTWS_BINARY_DIR/test-artifacts/.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <tuple>
#include <vector>

#include "support/command_output.hpp"

namespace {

const std::string examples_dir = FASTWS_BINARY_DIR "/examples/";
const std::string artifacts_dir = FASTWS_BINARY_DIR "/test-artifacts";
const std::string script = FASTWS_TEST_DATA_DIR "/browser/chat_in_browsers.py";

bool is_executable(const std::string& path) {
  return ::access(path.c_str(), X_OK) == 0;
}

// Runs the script for one server and one browser and returns its exit status, with its output
// in `output`. coreutils `timeout` bounds the run: SIGTERM after 200 s (two browser starts of up
// to 60 s each, then the steps) lets the script kill its browsers; SIGKILL follows if that takes
// 25 s more. ctest's own limit (scripts/test.sh) is 300 s.
int run_script(const std::string& server, const std::string& browser, std::string& output) {
  const std::string command = "timeout -k 25 200 /usr/bin/python3 " + script + " " + server + " " +
                              artifacts_dir + " " + browser + " 2>&1";
  return fastws::test::run_command(command, output);
}

bool starts_with_png_signature(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::string head(8, '\0');
  return file.read(head.data(), 8) && head == "\x89PNG\r\n\x1a\n";
}

// The programs each browser needs.
std::vector<std::string> browser_programs(const std::string& browser) {
  if (browser == "chromium") {
    return {"/usr/bin/python3", "/usr/bin/chromium", "/usr/bin/chromedriver"};
  }
  return {"/usr/bin/python3", "/usr/bin/firefox-esr"};
}

// (example, browser)
class ChatBrowser : public testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(ChatBrowser, TwoUsersChatThroughThePage) {
  const auto& [example, browser] = GetParam();
  const std::string server = examples_dir + example;
  if (!is_executable(server)) {
    GTEST_SKIP() << server << " is not built (examples off, or no Boost for beast_server)";
  }
  for (const std::string& program : browser_programs(browser)) {
    if (!is_executable(program)) GTEST_SKIP() << program << " is not installed";
  }
  // Screenshots of an earlier run must not pass for this one's (the script's names).
  const std::string suffix = example == "chat" ? "" : "-" + example;
  const std::vector<std::string> screenshots = {
      artifacts_dir + "/chat-" + browser + "-ann" + suffix + ".png",
      artifacts_dir + "/chat-" + browser + "-bob" + suffix + ".png"};
  for (const std::string& path : screenshots) std::filesystem::remove(path);

  std::string output;
  EXPECT_EQ(run_script(server, browser, output), 0) << output;
  EXPECT_NE(output.find("ok   " + browser + ": all steps"), std::string::npos) << output;
  for (const std::string& path : screenshots) {
    EXPECT_TRUE(starts_with_png_signature(path)) << path << " is missing or not a PNG";
  }
}

INSTANTIATE_TEST_SUITE_P(Examples, ChatBrowser,
                         testing::Combine(testing::Values("chat", "beast_server"),
                                          testing::Values("chromium", "firefox")),
                         [](const auto& instance) {
                           return std::get<0>(instance.param) + "_" + std::get<1>(instance.param);
                         });

}  // namespace
