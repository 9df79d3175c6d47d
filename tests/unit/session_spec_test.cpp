// Runs every case of tests/spec/session.spec, with the input whole, split at every point, and
// fed one byte at a time: the trace of events and sent frames must be the same each time.
//
// FASTWS_WRITE_CORPUS=<dir> also writes each case's input to <dir>/<role>/<case> (how the fuzz
// seed corpora fuzz/corpus/session_server and session_client are made).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "spec/session_spec.hpp"

namespace fastws::spec {

// gtest prints parameters on failure: show the case's name, not its bytes.
void PrintTo(const SessionCase& c, std::ostream* out) {
  *out << c.name << " (line " << c.line << ")";
}

namespace {

std::vector<SessionCase> load_cases() {
  return read_session_spec(std::string(FASTWS_TEST_DATA_DIR) + "/spec/session.spec");
}

// Feeds `input` in the pieces given by `cuts` (increasing offsets) to a fresh session. What a
// call leaves (it inflated its share) is fed again, as an owner does.
std::vector<std::string> run(const SessionCase& c, const std::vector<std::size_t>& cuts) {
  protocol::Session session(c.config, c.deflate);
  TraceRecorder recorder(c.config.role);
  std::vector<std::byte> input = c.input;  // receive() unmasks in place
  std::size_t begin = 0;
  auto feed = [&](std::size_t end) {
    while (begin < end && session.state() != protocol::Session::State::closed) {
      begin += session.receive(std::span(input).subspan(begin, end - begin), recorder, recorder);
    }
    begin = std::max(begin, end);
  };
  for (std::size_t cut : cuts) feed(cut);
  feed(input.size());
  return recorder.trace;
}

std::string show(const std::vector<std::string>& trace) {
  std::string out;
  for (const auto& line : trace) out += "  " + line + "\n";
  return out;
}

class SessionSpec : public ::testing::TestWithParam<SessionCase> {};

TEST_P(SessionSpec, WholeInput) {
  const SessionCase& c = GetParam();
  auto trace = run(c, {});
  EXPECT_EQ(trace, c.expected) << "case " << c.name << " (line " << c.line << ")\ngot:\n"
                               << show(trace) << "expected:\n"
                               << show(c.expected);
}

TEST_P(SessionSpec, EverySplitPoint) {
  const SessionCase& c = GetParam();
  // Large inputs: every point near the start and end, and a stride through the middle.
  const std::size_t n = c.input.size();
  for (std::size_t cut = 1; cut < n; cut += (cut < 512 || n - cut < 512) ? 1 : 997) {
    auto trace = run(c, {cut});
    ASSERT_EQ(trace, c.expected) << "case " << c.name << " split at " << cut << "\ngot:\n"
                                 << show(trace);
  }
}

TEST_P(SessionSpec, OneByteAtATime) {
  const SessionCase& c = GetParam();
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < c.input.size(); ++i) cuts.push_back(i);
  auto trace = run(c, cuts);
  EXPECT_EQ(trace, c.expected) << "case " << c.name << "\ngot:\n" << show(trace);
}

INSTANTIATE_TEST_SUITE_P(Spec, SessionSpec, ::testing::ValuesIn(load_cases()),
                         [](const auto& test) { return test.param.name; });

TEST(SessionSpecFile, HasCasesAndWritesCorpusOnRequest) {
  auto cases = load_cases();
  ASSERT_GT(cases.size(), 50u);
  const char* dir = std::getenv("FASTWS_WRITE_CORPUS");
  if (dir == nullptr) return;
  for (const auto& c : cases) {
    auto folder = std::filesystem::path(dir) /
                  (c.config.role == protocol::Role::server ? "session_server" : "session_client");
    std::filesystem::create_directories(folder);
    std::ofstream out(folder / c.name, std::ios::binary);
    // The fuzz targets read one settings byte first: bit 0 deflate, bit 1 stream mode.
    char settings = static_cast<char>((c.deflate ? 1 : 0) | (c.config.stream_fragments ? 2 : 0));
    out.put(settings);
    out.write(reinterpret_cast<const char*>(c.input.data()),
              static_cast<std::streamsize>(c.input.size()));
  }
}

}  // namespace
}  // namespace fastws::spec
