// fastws-cat's exit codes: one per way a connection can fail, so that scripts can tell a name
// that does not resolve from a server that refused them. The README lists them too.
#pragma once

#include <string_view>

#include <fastws/client.hpp>

namespace fastws::cat {

enum ExitCode : int {
  exit_ok = 0,
  exit_failure = 1,         // anything else: output closed, cannot listen, ...
  exit_usage = 2,           // bad options, or files they name that cannot be used
  exit_resolve = 3,         // the host name did not resolve
  exit_unreachable = 4,     // refused or unreachable: no address took the TCP connection
  exit_tls = 5,             // the TLS handshake failed (certificate verification included)
  exit_http_status = 6,     // the server answered the upgrade with another status than 101
  exit_handshake = 7,       // the server's answer broke RFC 6455 (Accept, Upgrade, extensions)
  exit_timeout = 8,         // no connection or no answer within --connect-timeout
  exit_abnormal_close = 9,  // the connection ended other than with 1000, 1001 or no code
};

int exit_code_for(ConnectError failure);
// 0 for a clean close (1000, 1001, or a close frame without a code, with no error seen),
// exit_abnormal_close for any other: another code, or 1006 (the connection dropped).
int exit_code_for(const CloseStatus& status);

// The table for --help.
std::string_view exit_code_table();

}  // namespace fastws::cat
