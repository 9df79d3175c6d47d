// Mask keys for client frames (RFC 6455 section 5.3: "derived from a strong source of entropy").
#pragma once

#include "fastws/frame.hpp"

namespace fastws::protocol {

// A fresh unpredictable key. Draws from OpenSSL's CSPRNG in blocks kept per thread, so a key
// costs a few instructions, not a system call.
MaskKey random_mask_key() noexcept;

}  // namespace fastws::protocol
