#include "connection/endpoint.hpp"

#include "connection/loop_context.hpp"

namespace fastws::detail {

void Endpoint::make_loops(unsigned count, IoBackend backend) {
  event_loops = std::make_shared<net::EventLoops>(count, backend);
  for (std::size_t i = 0; i < event_loops->size(); ++i) {
    loops.emplace_back(new LoopContext(*this, (*event_loops)[i]));
  }
}

void Endpoint::share_loops(Endpoint& host) {
  event_loops = host.event_loops;
  for (const LoopContextPtr& host_loop : host.loops) {
    loops.emplace_back(new LoopContext(*this, *host_loop));
  }
}

protocol::DeflateConfig deflate_config_from(const CompressionOptions& options) {
  protocol::DeflateConfig config;
  config.server_no_context_takeover = options.server_no_context_takeover;
  config.client_no_context_takeover = options.client_no_context_takeover;
  config.server_max_window_bits = options.server_max_window_bits;
  config.client_max_window_bits = options.client_max_window_bits;
  config.compression_level = options.level;
  config.mem_level = options.mem_level;
  config.min_compress_size = options.min_size;
  config.shared_compressor = options.shared_compressor;
  return config;
}

}  // namespace fastws::detail
