// The web client (web/ at build time, embedded by http/embed_web.cmake): GET / answers
// its page, GET /app/{file} its scripts and styles, each with a Content-Security-Policy
// that allows only the node's own origin and no framing.
#pragma once

#include "http/router.hpp"

#include <string_view>
#include <vector>

namespace tandem::http {

/// One embedded file of web/: its name ("app.js"), Content-Type, quoted ETag, bytes.
struct web_file {
  const char* name;
  const char* content_type;
  const char* etag;
  std::string_view bytes;
};

/// Every file of web/ at build time, in name order (generated).
const std::vector<web_file>& web_files();

/// The Content-Security-Policy of the client's files: the node's own origin for scripts,
/// styles, images and fetches, plus its WebSockets (ws:/wss: of `host`, the request's Host
/// header, left out unless it is a plain host[:port]); no inline script, no framing.
std::string web_security_policy(const std::optional<std::string>& host);

/// GET / (web/index.html) and GET /app/{file} (any file of web/).
void add_web_client_routes(router& r);

} // namespace tandem::http
