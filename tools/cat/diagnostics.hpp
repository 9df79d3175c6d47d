// fastws-cat's lines on standard error, one line each, starting with "fastws-cat: ": errors
// always, information (connected, listening, a client came or left) unless -q.
#pragma once

#include <cstdio>
#include <string_view>

#include "cat/options.hpp"

namespace fastws::cat {

inline void print_error(std::string_view text) {
  std::fprintf(stderr, "fastws-cat: %.*s\n", static_cast<int>(text.size()), text.data());
}

inline void print_info(const CatOptions& options, std::string_view text) {
  if (!options.quiet) print_error(text);
}

}  // namespace fastws::cat
