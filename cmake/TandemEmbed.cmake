# Helpers of the scripts that embed files into the binary (persistence/embed_sql.cmake,
# http/embed_openapi.cmake).

# tandem_raw_string(<out_var> <text>): <text> as a C++ raw string literal, R"d(...)d", with a
# delimiter the text does not contain (a raw string ends at the first `)d"`).
function(tandem_raw_string out_var text)
  set(delimiter "tandem")
  set(n 0)
  string(FIND "${text}" ")${delimiter}\"" found)
  while(NOT found EQUAL -1)
    math(EXPR n "${n} + 1")
    set(delimiter "tandem${n}")
    string(FIND "${text}" ")${delimiter}\"" found)
  endwhile()
  set(${out_var} "R\"${delimiter}(${text})${delimiter}\"" PARENT_SCOPE)
endfunction()

# tandem_write_if_changed(<path> <text>): writes only a changed text, so that an unrelated
# re-run of a generator does not trigger a recompile.
function(tandem_write_if_changed path text)
  set(old "")
  if(EXISTS ${path})
    file(READ ${path} old)
  endif()
  if(NOT old STREQUAL text)
    file(WRITE ${path} "${text}")
  endif()
endfunction()
