// The API's own description, served at GET /openapi.json.
#pragma once

#include <string_view>

namespace tandem::http {

/// docs/openapi.json as it was at build time (embedded by http/embed_openapi.cmake): an
/// OpenAPI 3.1 document of every route, WebSocket path and frame. tests/e2e/test_openapi.py
/// checks it against the route table and validates real traffic with it.
std::string_view openapi_document();

} // namespace tandem::http
