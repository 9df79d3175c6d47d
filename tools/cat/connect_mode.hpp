// fastws-cat's connect mode: dial the URL, then run the conversation (cat/conversation.hpp),
// printing what arrives.
#pragma once

#include "cat/options.hpp"
#include "cat/wakeup.hpp"

namespace fastws::cat {

// Returns the exit code (cat/exit_codes.hpp).
int run_connect(const CatOptions& options, const Wakeup& wakeup);

}  // namespace fastws::cat
