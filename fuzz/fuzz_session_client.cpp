// libFuzzer target: the session state machine in the client role (see session_fuzz.hpp).
#include "session_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return fastws::fuzz::run_session_fuzz(fastws::protocol::Role::client, data, size);
}
