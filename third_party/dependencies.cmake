# Finds the external packages mxopt builds against. Nothing here is vendored source.
#
# Eigen 3.4: a system install (Debian libeigen3-dev), or the `cmeel-eigen` PyPI package, whose
# Eigen3Config.cmake lives in <site-packages>/cmeel.prefix/share/eigen3/cmake. Inside pip's
# isolated build environment that site-packages is found through the `cmeel` module itself.
find_package(Eigen3 3.4 CONFIG QUIET)
if(NOT Eigen3_FOUND)
  find_package(Python COMPONENTS Interpreter QUIET)
  if(Python_EXECUTABLE)
    execute_process(
      COMMAND "${Python_EXECUTABLE}" -c
        "import cmeel, os; print(os.path.join(os.path.dirname(os.path.dirname(cmeel.__file__)), 'cmeel.prefix'))"
      OUTPUT_VARIABLE _mxopt_cmeel_prefix OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  endif()
  if(_mxopt_cmeel_prefix)
    find_package(Eigen3 3.4 CONFIG QUIET PATHS "${_mxopt_cmeel_prefix}" NO_DEFAULT_PATH)
  endif()
endif()
if(NOT Eigen3_FOUND)
  message(FATAL_ERROR "mxopt needs Eigen >= 3.4: `pip install cmeel-eigen` or `apt-get install libeigen3-dev`")
endif()
message(STATUS "mxopt: Eigen ${Eigen3_VERSION} from ${Eigen3_DIR}")

if(MXOPT_OPENMP)
  find_package(OpenMP COMPONENTS CXX)
endif()

if(MXOPT_BUILD_TESTS)
  find_package(GTest CONFIG QUIET)
  if(NOT GTest_FOUND)
    find_package(GTest REQUIRED)  # FindGTest module fallback
  endif()
endif()
