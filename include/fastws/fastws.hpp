// fastws: a C++20 WebSocket library (RFC 6455, RFC 7692) for Linux. The umbrella header.
#pragma once

#include "fastws/client.hpp"      // IWYU pragma: export
#include "fastws/close_code.hpp"  // IWYU pragma: export
#include "fastws/conn.hpp"        // IWYU pragma: export
#include "fastws/frame.hpp"       // IWYU pragma: export
#include "fastws/options.hpp"     // IWYU pragma: export
#include "fastws/request.hpp"     // IWYU pragma: export
#include "fastws/server.hpp"      // IWYU pragma: export
