// fastws-cat's listen mode: a fastws::Server that prints what clients send ("[ID] " first when
// several may come) and sends standard input's lines to all of them; with --one it serves one
// client as connect mode serves its server (cat/conversation.hpp), and refuses others (503).
#pragma once

#include "cat/options.hpp"
#include "cat/wakeup.hpp"

namespace fastws::cat {

// Returns the exit code (cat/exit_codes.hpp).
int run_listen(const CatOptions& options, const Wakeup& wakeup);

}  // namespace fastws::cat
