// The Origin check of the upgrade (RFC 6455 10.2, RFC 6454): does a browser page from `origin`
// get to open a WebSocket on this server?
#pragma once

#include <string_view>

#include "fastws/options.hpp"

namespace fastws::detail {

// `origin` is the Origin header (never empty here: requests without one are not from browsers
// and skip the check); `host` is the Host header of the same request.
bool origin_allowed(const OriginPolicy& policy, std::string_view origin, std::string_view host);

}  // namespace fastws::detail
