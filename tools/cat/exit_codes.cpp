#include "cat/exit_codes.hpp"

namespace fastws::cat {

int exit_code_for(ConnectError failure) {
  switch (failure) {
    case ConnectError::none:
      return exit_ok;
    case ConnectError::invalid_request:
      return exit_usage;
    case ConnectError::resolve:
      return exit_resolve;
    case ConnectError::connect:
      return exit_unreachable;
    case ConnectError::tls:
      return exit_tls;
    case ConnectError::http_status:
      return exit_http_status;
    case ConnectError::handshake:
      return exit_handshake;
    case ConnectError::timeout:
      return exit_timeout;
    case ConnectError::stopped:
      break;
  }
  return exit_failure;
}

int exit_code_for(const CloseStatus& status) {
  const bool clean_code = status.code == close_code::normal ||
                          status.code == close_code::going_away ||
                          status.code == close_code::no_status;
  return clean_code && status.error.empty() ? exit_ok : exit_abnormal_close;
}

std::string_view exit_code_table() {
  return "exit codes:\n"
         "  0  the connection closed cleanly (1000, 1001, or no code)\n"
         "  1  another failure (standard output closed, cannot listen, ...)\n"
         "  2  usage: bad options, or a file they name cannot be used\n"
         "  3  the host name did not resolve\n"
         "  4  connection refused or unreachable\n"
         "  5  TLS handshake failed (certificate verification included)\n"
         "  6  the server answered the upgrade with an HTTP status other than 101\n"
         "  7  the server's handshake answer broke the protocol\n"
         "  8  timeout: no connection or no answer within --connect-timeout\n"
         "  9  the connection closed abnormally (another close code, or dropped)\n";
}

}  // namespace fastws::cat
