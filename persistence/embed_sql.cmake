# cmake -DSQL_DIR=<dir> -DOUTPUT=<file.cpp> -P embed_sql.cmake
# Writes a C++ file holding every SQL_DIR/NNNN_*.sql as a raw string literal, in file
# name order. The file is only rewritten when its text changes, so that an unrelated
# re-run does not trigger a recompile.
if(NOT SQL_DIR OR NOT OUTPUT)
  message(FATAL_ERROR "usage: cmake -DSQL_DIR=<dir> -DOUTPUT=<file.cpp> -P embed_sql.cmake")
endif()

include(${CMAKE_CURRENT_LIST_DIR}/../cmake/TandemEmbed.cmake)

file(GLOB files ${SQL_DIR}/[0-9][0-9][0-9][0-9]_*.sql)
list(SORT files)

set(entries "")
foreach(path IN LISTS files)
  get_filename_component(file_name ${path} NAME)
  file(READ ${path} sql)
  tandem_raw_string(literal "${sql}")
  string(APPEND entries "    {\"${file_name}\", ${literal}},\n")
endforeach()

set(text "// Generated from persistence/sql/*.sql by persistence/embed_sql.cmake. Do not edit.
#include \"persistence/embedded_sql.hpp\"

namespace tandem::persistence::detail {

const std::vector<sql_file>& embedded_sql_files() {
  static const std::vector<sql_file> files = {
${entries}  };
  return files;
}

} // namespace tandem::persistence::detail
")

tandem_write_if_changed(${OUTPUT} "${text}")
