#include "connection/endpoint.hpp"

namespace fastws::detail {

protocol::DeflateConfig deflate_config_from(const CompressionOptions& options) {
  protocol::DeflateConfig config;
  config.server_no_context_takeover = options.server_no_context_takeover;
  config.client_no_context_takeover = options.client_no_context_takeover;
  config.server_max_window_bits = options.server_max_window_bits;
  config.client_max_window_bits = options.client_max_window_bits;
  config.compression_level = options.level;
  config.mem_level = options.mem_level;
  config.min_compress_size = options.min_size;
  return config;
}

}  // namespace fastws::detail
