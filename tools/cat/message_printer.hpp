// How fastws-cat writes the messages that arrive: a text message as it is and a newline; a
// binary one as a line of hex, or its bytes as they are (--binary-output raw). In listen mode
// with several clients each printed line starts with the connection's "[ID] ".
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

#include <fastws/conn.hpp>

#include "cat/options.hpp"

namespace fastws::cat {

// Used from one thread at a time (fastws-cat runs one event loop).
class MessagePrinter {
 public:
  explicit MessagePrinter(BinaryOutput binary, std::FILE* out = stdout)
      : binary_(binary), out_(out) {}

  // Writes and flushes one message; false (errno set) when the output is gone.
  bool print(const Message& message, std::string_view prefix = {});

 private:
  BinaryOutput binary_;
  std::FILE* out_;
  std::string line_;  // reused: no allocation per message once it is large enough
};

}  // namespace fastws::cat
