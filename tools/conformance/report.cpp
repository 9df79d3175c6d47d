#include "conformance/report.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <set>

#include "conformance/json.hpp"

namespace fastws::conformance {

namespace {

constexpr std::string_view member_separator = ",\n   ";

std::string clean_for_filename(std::string_view text) {
  std::string out;
  bool gap = false;
  for (const char c : text) {
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if ((lower >= 'a' && lower <= 'z') || (lower >= '0' && lower <= '9')) {
      if (gap && !out.empty()) out += '_';
      gap = false;
      out += lower;
    } else {
      gap = true;
    }
  }
  return out.empty() ? "agent" : out;
}

std::string report_file_name(std::string_view agent, std::string_view id) {
  std::string name = clean_for_filename(agent) + "_case_" + std::string(id) + ".json";
  std::replace(name.begin(), name.end() - 5, '.', '_');
  return name;
}

std::string events_json(const Events& events) {
  std::vector<std::string> items;
  for (const Event& event : events) {
    switch (event.kind) {
      case Event::Kind::message:
        items.push_back(json_array({json_quote("message"), json_quote(log_data(event.data)),
                                    event.binary ? "true" : "false"}));
        break;
      case Event::Kind::ping:
      case Event::Kind::pong:
        items.push_back(json_array({json_quote(event.kind == Event::Kind::ping ? "ping" : "pong"),
                                    json_quote(log_data(event.data))}));
        break;
      case Event::Kind::timeout:
        items.push_back(json_array({json_quote("timeout"), json_quote(event.data)}));
        break;
    }
  }
  return json_array(items);
}

std::string codes_json(const std::vector<std::uint16_t>& codes) {
  std::vector<std::string> items;
  for (const std::uint16_t code : codes) items.push_back(std::to_string(code));
  return json_array(items);
}

std::string case_json(const CaseRecord& record) {
  const CaseSpec& spec = *record.spec;
  JsonObject json;
  json.text("agent", record.agent)
      .text("behavior", verdict_name(record.outcome.behavior))
      .text("behaviorClose", verdict_name(record.outcome.behavior_close))
      .number("case", static_cast<std::int64_t>(record.number))
      .text("description", spec.description)
      .number("duration", record.duration.count())
      .text("expectation", spec.expectation)
      .text("httpRequest", log_data(record.http_request, 4096))
      .text("httpResponse", log_data(record.http_response, 4096))
      .text("id", spec.id)
      .boolean("isServer", !record.fuzzer_is_client)
      .boolean("reportTime", spec.report_time)
      .text("result", record.outcome.result)
      .text("resultClose", record.outcome.result_close)
      .text("started", record.started);
  if (record.run == nullptr) return json.str(member_separator);
  const CaseRun& run = *record.run;
  JsonObject expected;
  for (const auto& [verdict, events] : run.expected()) {
    expected.raw(verdict_name(verdict), events_json(events));
  }
  const ExpectedClose& expected_close = run.expected_close();
  const CloseRecord& close = run.close_record();
  JsonObject frames_sent;
  for (const auto& [opcode, count] : run.frames_sent()) {
    frames_sent.number(std::to_string(opcode), static_cast<std::int64_t>(count));
  }
  json.raw("expected", expected.str())
      .raw("expectedClose",
           JsonObject()
               .boolean("closedByMe", expected_close.closed_by_me)
               .raw("closeCode", codes_json(expected_close.codes))
               .boolean("requireClean", expected_close.require_clean)
               .boolean("closedByWrongEndpointIsFatal", expected_close.wrong_endpoint_is_fatal)
               .str())
      .raw("received", events_json(run.received()))
      .boolean("closedByMe", close.closed_by_me)
      .boolean("failedByMe", close.failed_by_me)
      .boolean("droppedByMe", close.dropped_by_me)
      .boolean("wasClean", close.was_clean)
      .text("wasNotCleanReason", close.not_clean_reason)
      .code("localCloseCode", close.local_code)
      .text("localCloseReason", close.local_reason)
      .code("remoteCloseCode", close.remote_code)
      .text("remoteCloseReason", log_data(close.remote_reason, 125))
      .raw("txFrameStats", frames_sent.str())
      .raw("wirelog", json_array(run.wirelog(), ",\n      "))
      .number("wirelogDropped", static_cast<std::int64_t>(run.wirelog_dropped()));
  return json.str(member_separator);
}

bool write_file(const std::string& path, const std::string& text, std::string& error) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    error = "cannot write " + path;
    return false;
  }
  return true;
}

bool make_directories(const std::string& path, std::string& error) {
  for (std::size_t at = 1; at <= path.size(); ++at) {
    if (at != path.size() && path[at] != '/') continue;
    const std::string part = path.substr(0, at);
    if (::mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) {
      error = "cannot create " + part + ": " + std::strerror(errno);
      return false;
    }
  }
  return true;
}

std::string css_class(Verdict verdict) {
  switch (verdict) {
    case Verdict::ok:
      return "ok";
    case Verdict::non_strict:
    case Verdict::wrong_code:
    case Verdict::failed_by_client:
      return "non_strict";
    case Verdict::informational:
      return "info";
    case Verdict::unimplemented:
      return "unimplemented";
    default:
      return "failed";
  }
}

std::string html_escape(std::string_view text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

std::string utc_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char text[32];
  const std::size_t length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  char fraction[8];
  std::snprintf(fraction, sizeof fraction, ".%03dZ", static_cast<int>(millis));
  return std::string(text, length) + fraction;
}

bool Report::add(const CaseRecord& record, std::string& error) {
  if (!make_directories(directory_, error)) return false;
  const std::string file = report_file_name(record.agent, record.spec->id);
  std::vector<Row>& rows = agents_[record.agent];
  const auto place =
      std::upper_bound(rows.begin(), rows.end(), record.number,
                       [](std::size_t number, const Row& row) { return number < row.number; });
  rows.insert(place,
              {record.number, record.spec->id, record.spec->description, record.outcome.behavior,
               record.outcome.behavior_close, record.duration.count(), record.spec->report_time,
               record.run ? record.run->close_record().remote_code : std::nullopt, file});
  return write_file(directory_ + "/" + file, case_json(record) + "\n", error);
}

bool Report::finish(std::string& error) const {
  if (!make_directories(directory_, error)) return false;
  std::string index = "{\n";
  bool first_agent = true;
  for (const auto& [agent, rows] : agents_) {
    index += std::string(first_agent ? "" : ",\n") + "   " + json_quote(agent) + ": {\n";
    first_agent = false;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const Row& row = rows[i];
      index += "      " + json_quote(row.id) + ": " +
               JsonObject()
                   .text("behavior", verdict_name(row.behavior))
                   .text("behaviorClose", verdict_name(row.behavior_close))
                   .number("duration", row.duration_ms)
                   .code("remoteCloseCode", row.remote_code)
                   .text("reportfile", row.report_file)
                   .str() +
               (i + 1 < rows.size() ? ",\n" : "\n");
    }
    index += "   }";
  }
  index += "\n}\n";
  if (!write_file(directory_ + "/index.json", index, error)) return false;

  std::string html =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>fastws-conformance report"
      "</title>\n<style>body{font-family:sans-serif} table{border-collapse:collapse} "
      "td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px} .ok{background:#0a0;color:#fff}"
      " .non_strict{background:#9c0} .info{background:#ccc} .unimplemented{background:#ddd;"
      "color:#777} .failed{background:#e00;color:#fff} a{color:inherit}</style></head><body>\n"
      "<h1>fastws-conformance report</h1>\n<p>Generated ";
  html += utc_now() + " (UTC).</p>\n";
  for (const auto& [agent, rows] : agents_) {
    std::map<std::string, std::size_t> counts;
    for (const Row& row : rows) ++counts[std::string(verdict_name(row.behavior))];
    html += "<h2>" + html_escape(agent) + "</h2>\n<p>";
    for (const auto& [verdict, count] : counts) {
      html += html_escape(verdict) + ": " + std::to_string(count) + " &nbsp; ";
    }
    html +=
        "</p>\n<table><tr><th>Case</th><th>Behavior</th><th>Close</th><th>Duration</th>"
        "<th>Description</th></tr>\n";
    for (const Row& row : rows) {
      const std::string link = "<a href=\"" + html_escape(row.report_file) + "\">";
      html += "<tr><td>" + link + html_escape(row.id) + "</a></td><td class=\"" +
              css_class(row.behavior) + "\">" + std::string(verdict_name(row.behavior)) +
              "</td><td class=\"" + css_class(row.behavior_close) + "\">" +
              std::string(verdict_name(row.behavior_close)) +
              (row.remote_code ? std::string(" ").append(std::to_string(*row.remote_code)) : "") +
              "</td><td>" + (row.report_time ? std::to_string(row.duration_ms) + " ms" : "") +
              "</td><td>" + html_escape(row.description) + "</td></tr>\n";
    }
    html += "</table>\n";
  }
  html += "</body></html>\n";
  return write_file(directory_ + "/index.html", html, error);
}

std::map<std::string, std::size_t> Report::behavior_counts() const {
  std::map<std::string, std::size_t> counts;
  for (const auto& [agent, rows] : agents_) {
    for (const Row& row : rows) ++counts[std::string(verdict_name(row.behavior))];
  }
  return counts;
}

std::map<std::string, std::size_t> Report::close_counts() const {
  std::map<std::string, std::size_t> counts;
  for (const auto& [agent, rows] : agents_) {
    for (const Row& row : rows) {
      if (row.behavior_close != Verdict::ok)
        ++counts[std::string(verdict_name(row.behavior_close))];
    }
  }
  return counts;
}

std::vector<std::string> Report::failures(bool require_ok) const {
  const auto passes = [require_ok](Verdict verdict, bool close) {
    if (verdict == Verdict::ok || verdict == Verdict::informational) return true;
    if (require_ok) return false;
    return close ? verdict == Verdict::failed_by_client : verdict != Verdict::failed;
  };
  std::vector<std::string> failed;
  for (const auto& [agent, rows] : agents_) {
    for (const Row& row : rows) {
      if (!passes(row.behavior, false) || !passes(row.behavior_close, true)) {
        failed.push_back(row.id);
      }
    }
  }
  return failed;
}

}  // namespace fastws::conformance
