#include "http/web_client.hpp"

#include <algorithm>

namespace tandem::http {

namespace {

/// A Host header that can stand in a CSP source as it is: a DNS name, IPv4 or bracketed
/// IPv6 address, and an optional port. Anything else (a `;` would start a directive of
/// the client's choosing) is not echoed.
bool plain_host(const std::string& host) {
  if (host.empty() || host.size() > 255)
    return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
  });
}

/// Whether If-None-Match (a list of ETags, weak or strong, or `*`) names `etag`.
bool matches(const std::optional<std::string>& if_none_match, const std::string& etag) {
  if (!if_none_match)
    return false;
  std::size_t pos = 0;
  const auto& list = *if_none_match;
  while (pos <= list.size()) {
    auto comma = std::min(list.find(',', pos), list.size());
    auto item = list.substr(pos, comma - pos);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (item.rfind("W/", 0) == 0)
      item.erase(0, 2);
    if (item == "*" || item == etag)
      return true;
    pos = comma + 1;
  }
  return false;
}

void serve(const web_file& file, const request& req, const responder& respond) {
  response res;
  res.headers = {{"ETag", file.etag},
                 // Names carry no version: always revalidate, which the ETag makes cheap.
                 {"Cache-Control", "no-cache"},
                 {"Content-Security-Policy", web_security_policy(req.header("host"))},
                 {"X-Frame-Options", "DENY"},
                 {"Referrer-Policy", "no-referrer"}};
  if (matches(req.header("if-none-match"), file.etag)) {
    res.status = 304;
    res.content_type.clear();
  } else {
    res.content_type = file.content_type;
    res.body.assign(file.bytes.data(), file.bytes.size());
  }
  respond(std::move(res));
}

/// Serves the embedded file `name`, or 404: only a name of that list is ever served, so
/// no path reaches a file system.
void serve_named(const std::string& name, const request& req, const responder& respond) {
  const auto& files = web_files();
  auto file = std::find_if(files.begin(), files.end(),
                           [&](const web_file& f) { return name == f.name; });
  if (file == files.end())
    return respond(error_response(404, "Not Found"));
  serve(*file, req, respond);
}

} // namespace

std::string web_security_policy(const std::optional<std::string>& host) {
  std::string connect = "connect-src 'self'";
  if (host && plain_host(*host))
    connect += " ws://" + *host + " wss://" + *host;
  return "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
         + connect + "; object-src 'none'; base-uri 'none'; form-action 'self'; "
           "frame-ancestors 'none'";
}

void add_web_client_routes(router& r) {
  r.add("GET", "/", [](request& req, responder respond) { serve_named("index.html", req, respond); });
  r.add("GET", "/app/{file}", [](request& req, responder respond) {
    serve_named(req.params["file"], req, respond);
  });
}

} // namespace tandem::http
