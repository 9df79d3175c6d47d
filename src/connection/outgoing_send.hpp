// A send made on another thread, travelling through the loop's mailbox to the connection's loop.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "connection/send_limits.hpp"
#include "fastws/conn.hpp"
#include "fastws/frame.hpp"

namespace fastws::detail {

class Connection;
class PreparedMessage;

struct OutgoingSend {
  enum class Kind : std::uint8_t {
    // For one connection:
    message,
    shared,
    fragment,
    frame,    // sent at once, as crafted
    crafted,  // a data frame of a message built with send_frame: waits its turn like a message
    ping,
    close,
    terminate,
    subscribe,
    unsubscribe,
    // For every connection of the loop (or of a topic); `connection` is the one to skip, if any:
    broadcast,
    publish,
  };

  Connection* connection = nullptr;  // holds a reference until the loop ran the send
  Kind kind = Kind::message;
  Opcode opcode = Opcode::binary;
  bool fin = true;                                 // fragment: last piece of the streamed message
  std::uint16_t close_code = 0;                    // close
  std::uint64_t stream = 0;                        // fragment: which Writer
  std::size_t reserved = 0;                        // bytes counted against the backpressure limit
  Admission admission = Admission::message_start;  // how `reserved` was judged
  std::vector<std::byte> bytes;                    // payload, close reason, topic name
  SharedPayload shared;                            // Kind::shared: the payload
  std::shared_ptr<PreparedMessage> prepared;       // broadcast, publish
  Frame frame;                                     // Kind::frame, Kind::crafted
};

}  // namespace fastws::detail
