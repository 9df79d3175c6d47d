// A bridge carries a server's topics to other processes, so that publish() on one node reaches
// the subscribers of every node (fastws::redis is one; see adapters/redis). The server tells the
// bridge which topics have subscribers here and hands it every publish(); the bridge delivers
// what other processes published with Server::publish_local(), which never comes back to it.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include "fastws/frame.hpp"

namespace fastws {

// What a bridge implements (see the top of this file).
class TopicBridge {
 public:
  virtual ~TopicBridge() = default;

  // On a loop thread: `topic` got its first subscriber on that loop, or lost its last one. Each
  // loop reports its own members, so a topic held on two loops is opened twice: a bridge counts.
  // Called while the loop changes its topics: do not block, do not call back into the server.
  virtual void topic_opened(std::string_view topic) = 0;
  virtual void topic_closed(std::string_view topic) = 0;
  // Any thread: Server::publish() was called and the local delivery is queued already.
  virtual void published(std::string_view topic, std::span<const std::byte> data, Opcode op) = 0;
  // The server is being destroyed (its loops do not run): nothing may call into it once this
  // returns. Later topic_closed() calls (connections torn down with the loops) only count.
  virtual void server_closing() noexcept = 0;
};

}  // namespace fastws
