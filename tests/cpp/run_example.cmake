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
# Same compiler as the library: its OpenMP runtime (libgomp / libomp) and sanitizer runtimes
# must match what the installed static library was built with.
run(${CMAKE_COMMAND} -S "${MXOPT_SOURCE_DIR}/examples/cpp" -B "${SCRATCH}/build" -G "${GENERATOR}"
    -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
    "-DCMAKE_PREFIX_PATH=${prefix};${EXTRA_PREFIX}")
run(${CMAKE_COMMAND} --build "${SCRATCH}/build")
if(EXISTS "${SCRATCH}/build/mxopt_example")
  run("${SCRATCH}/build/mxopt_example")
else()
  message(FATAL_ERROR "example binary not built")
endif()
