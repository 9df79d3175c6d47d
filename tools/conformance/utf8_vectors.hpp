// The UTF-8 decoder test vectors of cases 6.5-6.23: Markus Kuhn's UTF-8-test.txt sections
// (valid boundaries, unexpected continuation bytes, lonely start bytes, truncated and
// overlong sequences, surrogates) plus non-characters and specials, each vector marked valid or
// not under RFC 3629.
#pragma once

#include <string>
#include <vector>

namespace fastws::conformance {

struct Utf8Vector {
  bool valid;
  std::string bytes;
};

struct Utf8VectorGroup {
  std::string title;  // the case subcategory
  std::vector<Utf8Vector> vectors;
};

// In case order: the group at index i holds cases 6.(5 + i).1, 6.(5 + i).2, ...
std::vector<Utf8VectorGroup> utf8_vector_groups();

}  // namespace fastws::conformance
