# Installs the mxopt build tree to a scratch prefix and builds + runs examples/cpp against it.
file(REMOVE_RECURSE "${SCRATCH}")
set(prefix "${SCRATCH}/prefix")
function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message("${out}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGV}\n${err}")
  endif()
endfunction()
run(${CMAKE_COMMAND} --install "${MXOPT_BUILD_DIR}" --prefix "${prefix}" --component dev)
# The static library's OpenMP runtime (libgomp for GCC, libomp for clang) must match the
# example's, so the example is built with the compiler that built the library.
run(${CMAKE_COMMAND} -S "${MXOPT_SOURCE_DIR}/examples/cpp" -B "${SCRATCH}/build" -G "${GENERATOR}"
    -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=${prefix};${EXTRA_PREFIX}"
    "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
run(${CMAKE_COMMAND} --build "${SCRATCH}/build")
if(EXISTS "${SCRATCH}/build/mxopt_example")
  run("${SCRATCH}/build/mxopt_example")
else()
  message(FATAL_ERROR "example binary not built")
endif()
