// User handlers run on the loop threads, where an exception escaping would end the process
// (std::terminate) and every connection with it. Each call site runs its handler through
// call_user_handler(); if the handler threw, the call site closes only the connection concerned
// (1011 after the upgrade, 500 before it) and says which handler threw and why.
#pragma once

#include <exception>
#include <optional>
#include <string>
#include <utility>

namespace fastws::detail {

// Runs `call`; returns nothing if it returned, or the text of what it threw. Always inline:
// each call site passes a lambda of its own, so inlining copies nothing, and a call here cost
// about 30 instructions per message (the lambda's captures spilled to memory and read back).
template <class Call>
[[gnu::always_inline]] inline std::optional<std::string> call_user_handler(Call&& call) noexcept {
  try {
    std::forward<Call>(call)();
    return std::nullopt;
  } catch (const std::exception& error) {
    return std::string(error.what());
  } catch (...) {
    return std::string("an exception that is not a std::exception");
  }
}

}  // namespace fastws::detail
