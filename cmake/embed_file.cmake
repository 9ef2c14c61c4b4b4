# Writes the bytes of INPUT as a C array into OUTPUT (run with cmake -P at build time, so a
# file compiled into the binary needs no xxd and no files beside the binary at run time):
#     const unsigned char SYMBOL[] = {...bytes..., 0x00};  /* NUL-terminated for convenience */
#     const size_t SYMBOL_length = N;                        /* without the NUL */
# usage: cmake -DINPUT=FILE -DOUTPUT=FILE.c -DSYMBOL=name -P embed_file.cmake
foreach(var INPUT OUTPUT SYMBOL)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "embed_file.cmake: -D${var}=... is required")
  endif()
endforeach()
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" digits)
math(EXPR length "${digits} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
# sixteen bytes a line keeps the generated file readable (CMake's regex has no {16})
string(REPEAT "0x[0-9a-f][0-9a-f]," 16 line)
string(REGEX REPLACE "(${line})" "\\1\n    " bytes "${bytes}")
file(RELATIVE_PATH source_name "${CMAKE_CURRENT_LIST_DIR}/.." "${INPUT}")
# written beside, then renamed: an interrupted build never leaves a half-written source
file(WRITE "${OUTPUT}.tmp" "/* Generated from ${source_name} by cmake/embed_file.cmake; do not edit. */
#include <stddef.h>

const unsigned char ${SYMBOL}[] = {
    ${bytes}0x00};
const size_t ${SYMBOL}_length = ${length};
")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
