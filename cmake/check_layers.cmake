# The layers of src/ (docs/architecture.md, "Layers"): a module includes only the modules below it, and
# a header a module calls internal is included only from inside that module. Run with every build
# (target check_layers, a dependency of lakestream_lib): a wrong include fails the build, naming the
# file, the line and the rule. Tests beside the code (src/<module>/tests/) may include any module.
#
#   cmake -DSRC=<repo>/src -DSTAMP=<file> -P cmake/check_layers.cmake
set(LAYERS common config lake format source query pipeline serve jobs app)
# Files that break the rule, each with the reason it is allowed ("file:module"); none today.
set(EXCEPTIONS "")
set(INTERNAL_HEADERS pipeline/medallion.h app/runner_internal.h)

file(GLOB_RECURSE sources RELATIVE "${SRC}" "${SRC}/*.h" "${SRC}/*.cc")
set(errors "")
foreach(f IN LISTS sources)
  if(f MATCHES "/tests/")
    continue()
  endif()
  string(REGEX MATCH "^[a-z]+" module "${f}")
  list(FIND LAYERS "${module}" level)
  if(level EQUAL -1)
    string(APPEND errors "src/${f}: module '${module}' is not in the layer list of cmake/check_layers.cmake\n")
    continue()
  endif()
  file(STRINGS "${SRC}/${f}" lines REGEX "^#include \"[a-z]+/")
  foreach(line IN LISTS lines)
    string(REGEX MATCH "^#include \"([a-z]+)/([^\"]+)\"" m "${line}")
    set(target "${CMAKE_MATCH_1}")
    set(header "${CMAKE_MATCH_1}/${CMAKE_MATCH_2}")
    list(FIND LAYERS "${target}" target_level)
    if(target_level EQUAL -1)
      continue()  # a generated header or a third-party one
    endif()
    if(target_level GREATER level)
      list(FIND EXCEPTIONS "${f}:${target}" allowed)
      if(allowed EQUAL -1)
        string(APPEND errors "src/${f}: includes ${header}, but ${module}/ is below ${target}/ (layers, lowest "
                             "first: ${LAYERS}); move the code or the dependency (docs/architecture.md)\n")
      endif()
    endif()
    list(FIND INTERNAL_HEADERS "${header}" internal)
    if(NOT internal EQUAL -1 AND NOT module STREQUAL target)
      string(APPEND errors "src/${f}: includes ${header}, which is internal to ${target}/\n")
    endif()
  endforeach()
endforeach()
if(errors)
  message(FATAL_ERROR "layer check failed:\n${errors}")
endif()
file(WRITE "${STAMP}" "ok\n")
