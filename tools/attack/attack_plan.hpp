// The attacks fastws_attack runs, in order, with their servers and memory bounds. Quick mode
// runs fewer and shorter ones (the bounds are the same); full mode adds the larger sizes that
// show how a cost grows.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "attack.hpp"
#include "compressed_assembly.hpp"
#include "deflate_bomb.hpp"
#include "http_pipeline.hpp"
#include "message_flood.hpp"
#include "slowloris.hpp"
#include "streamed_echo.hpp"
#include "topic_joins.hpp"

namespace fastws::attack {

// Every server runs one event loop, so the attacker and the well-behaved client share it.
inline ServerSpec echo_server(bool compress = false) {
  ServerSpec spec{compress ? "echo --compress" : "echo", "examples/echo", {"--threads", "1"}, {}};
  if (compress) spec.args.push_back("--compress");
  return spec;
}

inline ServerSpec chat_server() {
  return {"chat",
          "examples/chat",
          {"--threads", "1"},
          {.path = "/ws",
           .setup = "join wb",
           .prefix = "say ",
           .reply = ClientProtocol::Reply::contains}};
}

inline ServerSpec topics_server() {
  return {"topics", "examples/topics", {"--threads", "1"}, {.reply = ClientProtocol::Reply::any}};
}

inline ServerSpec streamed_echo_server() {
  return {"streamed_echo_server", "bench/streamed_echo_server", {"--threads", "1"}, {}};
}

// One connection's share: what a single attacker may cost the server (its 4 MiB output limit,
// its input buffers, the loop's own) with room to spare.
inline constexpr double one_connection_bound_mib = 64;
// Issue 16: 30 connections holding 16 MiB compressed messages in assembly stay under 256 MiB.
inline constexpr double assembly_bound_mib = 256;

inline std::vector<Attack> attack_plan(bool quick) {
  using std::chrono::milliseconds;
  const milliseconds flood_time = quick ? milliseconds(3000) : milliseconds(10000);
  std::vector<Attack> plan;
  const auto http = [&](std::string name, ServerSpec server, std::string request) {
    plan.push_back({std::move(name), "pipelined plain-HTTP requests, responses never read",
                    std::move(server), one_connection_bound_mib,
                    [request, flood_time](const AttackContext& context) {
                      return run_http_pipeline(context, request, flood_time);
                    }});
  };
  http("http-pipeline", echo_server(), "GET /nothing-here HTTP/1.1\r\nHost: a\r\n\r\n");
  http("http-pipeline-page", chat_server(), "GET / HTTP/1.1\r\nHost: a\r\n\r\n");

  StreamedEchoOptions streamed;
  streamed.rounds = quick ? 4 : 8;
  plan.push_back(
      {"streamed-echo", "echo through a writer in 3 pieces, client pauses reading",
       streamed_echo_server(), one_connection_bound_mib,
       [streamed](const AttackContext& context) { return run_streamed_echo(context, streamed); }});

  for (const std::size_t connections :
       quick ? std::vector<std::size_t>{30} : std::vector<std::size_t>{30, 50}) {
    CompressedAssemblyOptions options;
    options.connections = connections;
    options.hold = quick ? milliseconds(1000) : milliseconds(3000);
    plan.push_back({"compressed-assembly-" + std::to_string(connections),
                    "connections holding an unfinished 16 MiB compressed message",
                    echo_server(true), assembly_bound_mib, [options](const AttackContext& context) {
                      return run_compressed_assembly(context, options);
                    }});
  }

  for (const std::size_t joins : quick ? std::vector<std::size_t>{10'000}
                                       : std::vector<std::size_t>{10'000, 20'000, 40'000}) {
    plan.push_back(
        {"topic-joins-" + std::to_string(joins / 1000) + "k", "topic joins on one connection",
         topics_server(), one_connection_bound_mib,
         [joins](const AttackContext& context) { return run_topic_joins(context, joins); }});
  }

  plan.push_back({"message-flood", "valid 64-byte messages as fast as one connection goes",
                  echo_server(), one_connection_bound_mib,
                  [flood_time](const AttackContext& context) {
                    return run_message_flood(context, flood_time);
                  }});
  plan.push_back({"slowloris-1000", "1,000 unfinished HTTP requests, a header line a second",
                  echo_server(), one_connection_bound_mib, [](const AttackContext& context) {
                    return run_slowloris(context, 1000, std::chrono::seconds(10));
                  }});
  plan.push_back({"deflate-bomb", "1 MB compressed message inflating to 1 GiB", echo_server(true),
                  one_connection_bound_mib, run_deflate_bomb});
  return plan;
}

}  // namespace fastws::attack
