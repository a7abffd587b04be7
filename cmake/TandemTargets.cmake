# Shared settings for the project's own targets: warnings apply to our code only,
# never to the system headers of CAF, Boost or libpqxx.
function(tandem_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
endfunction()

# tandem_add_library(name SOURCES ... DEPS ...): one static library per top-level folder,
# with includes rooted at the repository ("persistence/db.hpp").
function(tandem_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  tandem_set_warnings(${name})
endfunction()
