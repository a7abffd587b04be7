# cmake -DINPUT=<docs/openapi.json> -DOUTPUT=<file.cpp> -P embed_openapi.cmake
# Writes a C++ file holding the OpenAPI document as a raw string literal, for
# GET /openapi.json (http/openapi.hpp). The file is only rewritten when its text changes.
if(NOT INPUT OR NOT OUTPUT)
  message(FATAL_ERROR "usage: cmake -DINPUT=<openapi.json> -DOUTPUT=<file.cpp> -P embed_openapi.cmake")
endif()

include(${CMAKE_CURRENT_LIST_DIR}/../cmake/TandemEmbed.cmake)

file(READ ${INPUT} document)
tandem_raw_string(literal "${document}")

set(text "// Generated from docs/openapi.json by http/embed_openapi.cmake. Do not edit.
#include \"http/openapi.hpp\"

namespace tandem::http {

std::string_view openapi_document() {
  static constexpr std::string_view document = ${literal};
  return document;
}

} // namespace tandem::http
")

tandem_write_if_changed(${OUTPUT} "${text}")
