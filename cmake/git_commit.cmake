# Writes OUT (a header defining FERRY_GIT_COMMIT) from the source tree's HEAD, at every build, so
# results files name the commit the binary was built from, not the one CMake was configured at.
# "-dirty" is added when tracked files differ from HEAD. The file is rewritten only when the text
# changes, so an unchanged commit rebuilds nothing.
#   cmake -DSRC=<source dir> -DOUT=<header> -P cmake/git_commit.cmake
execute_process(COMMAND git rev-parse --short=12 HEAD WORKING_DIRECTORY ${SRC}
                OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT commit)
  set(commit unknown)
else()
  execute_process(COMMAND git diff --quiet HEAD -- WORKING_DIRECTORY ${SRC} RESULT_VARIABLE dirty ERROR_QUIET)
  if(NOT dirty EQUAL 0)
    set(commit "${commit}-dirty")
  endif()
endif()
set(text "#define FERRY_GIT_COMMIT \"${commit}\"\n")
if(EXISTS ${OUT})
  file(READ ${OUT} old)
endif()
if(NOT "${old}" STREQUAL "${text}")
  file(WRITE ${OUT} "${text}")
endif()
