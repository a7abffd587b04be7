# Sanitizer and fuzzing options for every project target (scripts/build --sanitize sets
# both, with clang). Included before the targets are defined, so that directory-level
# options reach each of them, the tests and the fuzz targets included.
set(TANDEM_SANITIZE "" CACHE STRING
    "Sanitizers for every project target, comma separated (e.g. address,undefined)")
option(TANDEM_FUZZ "Build the libFuzzer targets of fuzz/ (clang only)" OFF)

if(TANDEM_SANITIZE)
  add_compile_options(-fsanitize=${TANDEM_SANITIZE} -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${TANDEM_SANITIZE})
  if(TANDEM_SANITIZE MATCHES "undefined")
    # UBSan otherwise reports and carries on: a finding must fail the test that met it.
    add_compile_options(-fno-sanitize-recover=undefined)
    # Not the vptr check: it reads an object's memory through a pipe (sanitizer_common's
    # IsAccessibleMemoryRange), so in a process out of file descriptors, which an e2e test
    # brings about on purpose, it reports every virtual call it checks as an invalid vptr
    # and stops the node. ASan still catches the use-after-free behind most real ones.
    add_compile_options(-fno-sanitize=vptr)
    add_link_options(-fno-sanitize=vptr)
    if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
      # ccache 4.7 hashes neither the ignorelist's contents nor, in its preprocessor mode,
      # a -D: the list is used under a name that holds its digest, so that an edit of it
      # misses the cache instead of reusing objects built without it.
      set(ignorelist ${CMAKE_CURRENT_LIST_DIR}/sanitizer-ignorelist.txt)
      set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${ignorelist})
      file(MD5 ${ignorelist} ignorelist_md5)
      set(ignorelist_used ${CMAKE_BINARY_DIR}/sanitizer-ignorelist-${ignorelist_md5}.txt)
      configure_file(${ignorelist} ${ignorelist_used} COPYONLY)
      add_compile_options(-fsanitize-ignorelist=${ignorelist_used})
    endif()
  endif()
endif()

if(TANDEM_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "TANDEM_FUZZ needs clang (libFuzzer): configure with CXX=clang++-14")
  endif()
  # Coverage feedback from all project code; only the fuzz targets link libFuzzer's main.
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
