// RFC 3986 2.1 percent-decoding, for the user information of proxy and Redis URLs.
#pragma once

#include <string>
#include <string_view>

namespace fastws::protocol {

// "%40" -> "@". Sets `out` and returns true; false for a '%' not followed by two hex digits.
bool percent_decode(std::string_view text, std::string& out);

}  // namespace fastws::protocol
