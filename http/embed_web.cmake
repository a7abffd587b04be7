# cmake -DWEB_DIR=<dir> -DOUTPUT=<file.cpp> -P embed_web.cmake
# Writes a C++ file holding every file of the web client (WEB_DIR/*.html, .js, .css, .svg)
# as a byte array with its Content-Type and a strong ETag (a SHA-256 prefix of its bytes,
# so every node built from the same files answers the same ETag). Any other file in
# WEB_DIR fails the build: the node serves only files whose type it can name. The file
# is only rewritten when its text changes, so an unrelated re-run does not recompile.
if(NOT WEB_DIR OR NOT OUTPUT)
  message(FATAL_ERROR "usage: cmake -DWEB_DIR=<dir> -DOUTPUT=<file.cpp> -P embed_web.cmake")
endif()

set(types_html "text/html; charset=utf-8")
set(types_js "text/javascript; charset=utf-8")
set(types_css "text/css; charset=utf-8")
set(types_svg "image/svg+xml")

file(GLOB files RELATIVE ${WEB_DIR} ${WEB_DIR}/*)
list(SORT files)
list(FIND files index.html index)
if(index EQUAL -1)
  message(FATAL_ERROR "web/index.html is missing: GET / answers it")
endif()

set(ARRAYS "")
set(ENTRIES "")
set(n 0)
foreach(name IN LISTS files)
  if(IS_DIRECTORY ${WEB_DIR}/${name})
    message(FATAL_ERROR "web/${name}: the web client is one flat folder")
  endif()
  set(extension "")
  if(name MATCHES "^[a-z0-9_-]+\\.([a-z]+)$")
    set(extension ${CMAKE_MATCH_1})
  endif()
  if(NOT DEFINED types_${extension})
    message(FATAL_ERROR "web/${name}: not a file the node can serve (names are [a-z0-9_-] "
                        "with one extension of html, js, css or svg)")
  endif()
  set(type "${types_${extension}}")
  file(READ ${WEB_DIR}/${name} hex HEX)
  if(hex STREQUAL "")
    message(FATAL_ERROR "web/${name} is empty")
  endif()
  file(SHA256 ${WEB_DIR}/${name} digest)
  string(SUBSTRING "${digest}" 0 20 etag)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
  string(APPEND ARRAYS "const char file${n}[] = {${bytes}};\n")
  string(APPEND ENTRIES
         "    {\"${name}\", \"${type}\", \"\\\"${etag}\\\"\", {file${n}, sizeof file${n}}},\n")
  math(EXPR n "${n} + 1")
endforeach()

# configure_file leaves OUTPUT untouched when its text would not change.
configure_file(${CMAKE_CURRENT_LIST_DIR}/embedded_web.cpp.in ${OUTPUT} @ONLY)
