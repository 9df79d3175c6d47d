// Broadcast and publish to permessage-deflate connections (RFC 7692): compressed once per
// compressor window for connections that agreed on server_no_context_takeover (they all get the
// same bytes), compressed by each connection itself where context takeover requires it (its
// history must include the message), plain for connections without the extension and for short
// messages. Every client inflates what it got and must find the message.
#include <gtest/gtest.h>

#include "protocol/permessage_deflate.hpp"
#include "server_test_support.hpp"

namespace fastws::testing {
namespace {

// A client with its own inflater, as a browser would have.
struct DeflateClient {
  DeflateClient(std::uint16_t port, std::string offer, bool no_context_takeover)
      : peer(port), inflater(15, no_context_takeover) {
    const std::string extra =
        offer.empty() ? std::string() : "Sec-WebSocket-Extensions: " + offer + "\r\n";
    const std::string head = peer.handshake("/", extra);
    EXPECT_EQ(status_of(head), 101) << head;
    agreed = field_of(head, "Sec-WebSocket-Extensions");
  }

  // The next message: its frame as sent and its payload after inflating (if RSV1 was set).
  struct Received {
    Frame frame;
    std::string text;
  };
  Received next() {
    Received received;
    auto frame = peer.read_frame();
    EXPECT_TRUE(frame);
    if (!frame) return received;
    received.frame = *frame;
    if (!frame->rsv1) {
      received.text = frame->payload_text();
      return received;
    }
    std::vector<std::byte> out;
    EXPECT_EQ(inflater.decompress(frame->payload, true, out, 1u << 20),
              protocol::Inflater::Status::ok);
    received.text = to_string(out);
    return received;
  }

  RawPeer peer;
  protocol::Inflater inflater;
  std::string agreed;
};

// About 8 KB of words drawn at random from a small vocabulary: compressible, but with little
// repetition inside one message, so that a compressor's history of earlier messages shows.
std::string compressible(unsigned variant) {
  static constexpr const char* words[] = {"alpha", "bravo", "charlie", "delta",  "echo", "fox",
                                          "golf",  "hotel", "india",   "juliet", "kilo", "lima",
                                          "mike",  "oscar", "papa",    "quebec"};
  std::string text;
  std::uint32_t state = 2654435761u * (variant + 1);
  while (text.size() < 8000) {
    state = state * 1664525u + 1013904223u;
    text += words[state >> 28];
    text += ' ';
  }
  return text;
}

class BroadcastCompression : public ::testing::Test {
 protected:
  BroadcastCompression() {
    server_.server().on_open([this](const Conn& conn) { opened_.add(conn); });
    server_.server().on_message([](const Conn& conn, Message message) {
      conn.subscribe(message.text());
      conn.send("joined");
    });
    server_.start();
  }
  static ServerOptions options() {
    ServerOptions options = TestServer::default_options();
    options.threads = 2;  // both loops compress on demand; the frames are still shared
    options.compression.enabled = true;
    options.compression.min_size = 64;
    return options;
  }
  // Clients of every kind: two shared-window groups, context takeover, and no extension.
  void connect_all() {
    const std::string no_takeover = "permessage-deflate; server_no_context_takeover";
    for (int i = 0; i < 3; ++i) shared15_.push_back(connect(no_takeover, true));
    for (int i = 0; i < 2; ++i) {
      shared10_.push_back(connect(no_takeover + "; server_max_window_bits=10", true));
    }
    for (int i = 0; i < 2; ++i) takeover_.push_back(connect("permessage-deflate", false));
    for (int i = 0; i < 2; ++i) plain_.push_back(connect("", false));
    ASSERT_TRUE(opened_.wait_for(9));
    for (auto* group : {&shared15_, &shared10_, &takeover_, &plain_}) {
      for (auto& client : *group) {
        client->peer.send_text("room");
        EXPECT_EQ(client->next().text, "joined");
      }
    }
  }
  std::unique_ptr<DeflateClient> connect(const std::string& offer, bool no_context_takeover) {
    return std::make_unique<DeflateClient>(server_.port(), offer, no_context_takeover);
  }

  Recorded<Conn> opened_;
  TestServer server_{options()};
  // After the server: the clients hang up first, so the server's stop need not wait for them.
  std::vector<std::unique_ptr<DeflateClient>> shared15_, shared10_, takeover_, plain_;
};

TEST_F(BroadcastCompression, EachKindOfConnectionGetsWhatItCanDecode) {
  connect_all();
  EXPECT_NE(shared10_[0]->agreed.find("server_max_window_bits=10"), std::string::npos)
      << shared10_[0]->agreed;
  EXPECT_EQ(plain_[0]->agreed, "");

  const std::string first = compressible(1);
  server_.server().broadcast(first);
  server_.server().publish("room", first);  // the same through a topic

  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round == 0 ? "broadcast" : "publish");
    // Every client of `group` gets `first`, compressed or not as `compressed` says; returns
    // the payloads they got.
    auto receive = [&](auto& group, bool compressed) {
      std::vector<std::vector<std::byte>> payloads;
      for (auto& client : group) {
        const auto got = client->next();
        EXPECT_EQ(got.frame.rsv1, compressed);
        EXPECT_EQ(got.text, first);
        payloads.push_back(got.frame.payload);
      }
      return payloads;
    };
    // Shared: the very same compressed bytes for every connection with the same window.
    for (auto* group : {&shared15_, &shared10_}) {
      const auto payloads = receive(*group, true);
      for (const auto& payload : payloads) EXPECT_EQ(payload, payloads.front());
      EXPECT_LT(payloads.front().size(), first.size() / 2);
    }
    receive(takeover_, true);
    receive(plain_, false);
  }
}

TEST_F(BroadcastCompression, ContextTakeoverConnectionsKeepTheirHistoryAcrossBroadcasts) {
  connect_all();
  // A direct send first: its words are in the compressor's history when the broadcasts come, so
  // a broadcast compressed without that history would decode wrongly on these clients.
  for (const Conn& conn : opened_.all()) conn.send(compressible(3));
  const std::string message = compressible(2);
  server_.server().broadcast(message);
  server_.server().broadcast(message);

  for (auto& client : takeover_) {
    EXPECT_EQ(client->next().text, compressible(3));
    const auto first = client->next();
    EXPECT_EQ(first.text, message);
    const auto again = client->next();
    EXPECT_EQ(again.text, message);
    // The history holds the message: the repeat costs a fraction of the first.
    EXPECT_LT(again.frame.payload.size() * 4, first.frame.payload.size());
  }
  for (auto& client : shared15_) {
    EXPECT_EQ(client->next().text, compressible(3));
    const auto first = client->next();
    const auto again = client->next();
    EXPECT_EQ(again.text, message);
    EXPECT_EQ(again.frame.payload, first.frame.payload) << "no history: the same bytes again";
  }
}

TEST_F(BroadcastCompression, ShortMessagesGoPlainToEveryone) {
  connect_all();
  server_.server().broadcast("tiny");
  for (auto* group : {&shared15_, &shared10_, &takeover_, &plain_}) {
    for (auto& client : *group) {
      const auto got = client->next();
      EXPECT_FALSE(got.frame.rsv1);
      EXPECT_EQ(got.text, "tiny");
    }
  }
}

}  // namespace
}  // namespace fastws::testing
