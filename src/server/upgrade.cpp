// Upgrade and Response: the objects on_upgrade and on_http fill in.
#include <algorithm>

#include "fastws/server.hpp"

namespace fastws {

void Upgrade::reject(int status, std::string_view body, HeaderList headers) {
  status_ = status;
  body_ = body;
  headers_ = std::move(headers);
}

void Upgrade::add_header(std::string name, std::string value) {
  headers_.emplace_back(std::move(name), std::move(value));
}

void Upgrade::select_subprotocol(std::string name) {
  // Only what the client offered may be chosen (RFC 6455 4.2.2); anything else means "none".
  const bool offered = std::find(offered_.begin(), offered_.end(), name) != offered_.end();
  subprotocol_ = offered ? std::move(name) : std::string();
}

void Response::send(int status, std::string_view content_type, std::string_view body) {
  status_ = status;
  content_type_ = content_type;
  body_ = body;
}

void Response::add_header(std::string name, std::string value) {
  headers_.emplace_back(std::move(name), std::move(value));
}

}  // namespace fastws
