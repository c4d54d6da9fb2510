// A CPython launcher linked with the sanitizer runtime (ThreadSanitizer), so that the sanitized
// extension mxopt._core can be tested from pytest. TSan's shared runtime cannot be LD_PRELOADed
// into an uninstrumented python (it crashes in libstdc++'s start-up), so the runtime is linked
// into this executable instead. It behaves like the virtual environment's interpreter named by
// MXOPT_SANITIZED_PYTHON (pyvenv.cfg, site-packages), e.g.
//   MXOPT_SANITIZED_PYTHON=.venv/bin/python build/tsan/tests/sanitizer/python_tsan -m pytest ...
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  const char* venv_python = std::getenv("MXOPT_SANITIZED_PYTHON");
  PyConfig config;
  PyConfig_InitPythonConfig(&config);
  PyStatus status = PyConfig_SetBytesArgv(&config, argc, argv);
  if (!PyStatus_Exception(status) && venv_python != nullptr) {
    // getpath() finds pyvenv.cfg next to the executable's directory: pretend to be that python.
    status = PyConfig_SetBytesString(&config, &config.program_name, venv_python);
    if (!PyStatus_Exception(status)) {
      status = PyConfig_SetBytesString(&config, &config.executable, venv_python);
    }
  }
  if (!PyStatus_Exception(status)) {
    status = Py_InitializeFromConfig(&config);
  }
  PyConfig_Clear(&config);
  if (PyStatus_Exception(status)) {
    Py_ExitStatusException(status);
  }
  return Py_RunMain();
}
