// Binds mxopt/lr_scheduler.h. The Python classes in mxopt/lr_scheduler.py subclass these and
// add MXNet's argument type checks and docstrings.
#include <cmath>

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings.h"
#include "mxopt/lr_scheduler.h"

namespace py = pybind11;

namespace mxopt::bindings {
namespace {

// MXNet logs schedule changes with the root logger's logging.info.
LRScheduler::LogFn python_logger() {
  return [](const std::string& msg) {
    py::gil_scoped_acquire gil;
    py::module_::import("logging").attr("info")(msg);
  };
}

// Step/count values are Python ints in MXNet whenever the user gave ints.
py::object number(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9e15)
    return py::int_(static_cast<long long>(v));
  return py::float_(v);
}

template <class T>
void with_logger(T& s) {
  s.set_logger(python_logger());
}

// Common state of every scheduler, in a fixed order (pickling).
py::tuple base_state(const LRScheduler& s) {
  return py::make_tuple(s.base_lr, s.warmup_steps, s.warmup_begin_lr, s.warmup_final_lr,
                        s.warmup_mode);
}
void set_base_state(LRScheduler& s, const py::tuple& t) {
  s.base_lr = t[0].cast<double>();
  s.warmup_steps = t[1].cast<std::int64_t>();
  s.warmup_begin_lr = t[2].cast<double>();
  s.warmup_final_lr = t[3].cast<double>();
  s.warmup_mode = t[4].cast<std::string>();
}

// py::pickle for a class: (base state, own state, instance __dict__).
template <class T, class Own, class Restore>
auto make_pickle(Own own, Restore restore) {
  return py::pickle(
      [own](py::object self) {
        const T& s = self.cast<const T&>();
        py::object d = py::hasattr(self, "__dict__") ? self.attr("__dict__") : py::dict();
        return py::make_tuple(base_state(s), own(s), d);
      },
      [restore](py::tuple t) {
        if (t.size() != 3) throw std::runtime_error("invalid LRScheduler pickle state");
        T s = restore(t[1].cast<py::tuple>());
        set_base_state(s, t[0].cast<py::tuple>());
        with_logger(s);
        return std::make_pair(std::move(s), t[2].cast<py::dict>());
      });
}

}  // namespace

void register_lr_scheduler(py::module_& m) {
  py::class_<LRScheduler>(m, "LRScheduler", py::dynamic_attr())
      .def(py::init<double, std::int64_t, double, std::string>(), py::arg("base_lr") = 0.01,
           py::arg("warmup_steps") = 0, py::arg("warmup_begin_lr") = 0.0,
           py::arg("warmup_mode") = "linear")
      .def("__call__", &LRScheduler::operator(), py::arg("num_update"))
      .def("get_warmup_lr", &LRScheduler::get_warmup_lr, py::arg("num_update"))
      .def_readwrite("base_lr", &LRScheduler::base_lr)
      .def_readwrite("warmup_steps", &LRScheduler::warmup_steps)
      .def_readwrite("warmup_begin_lr", &LRScheduler::warmup_begin_lr)
      .def_readwrite("warmup_final_lr", &LRScheduler::warmup_final_lr)
      .def_readwrite("warmup_mode", &LRScheduler::warmup_mode)
      .def(make_pickle<LRScheduler>([](const LRScheduler&) { return py::tuple(); },
                                    [](const py::tuple&) { return LRScheduler(); }));

  py::class_<FactorScheduler, LRScheduler>(m, "FactorScheduler", py::dynamic_attr())
      .def(py::init([](double step, double factor, double stop_factor_lr, double base_lr,
                       std::int64_t warmup_steps, double warmup_begin_lr, std::string mode) {
             FactorScheduler s(step, factor, stop_factor_lr, base_lr, warmup_steps,
                               warmup_begin_lr, std::move(mode));
             with_logger(s);
             return s;
           }),
           py::arg("step"), py::arg("factor") = 1.0, py::arg("stop_factor_lr") = 1e-8,
           py::arg("base_lr") = 0.01, py::arg("warmup_steps") = 0,
           py::arg("warmup_begin_lr") = 0.0, py::arg("warmup_mode") = "linear")
      .def("__call__", &FactorScheduler::operator(), py::arg("num_update"))
      .def_property("step", [](const FactorScheduler& s) { return number(s.step); },
                    [](FactorScheduler& s, double v) { s.step = v; })
      .def_property("count", [](const FactorScheduler& s) { return number(s.count); },
                    [](FactorScheduler& s, double v) { s.count = v; })
      .def_readwrite("factor", &FactorScheduler::factor)
      .def_readwrite("stop_factor_lr", &FactorScheduler::stop_factor_lr)
      .def(make_pickle<FactorScheduler>(
          [](const FactorScheduler& s) {
            return py::make_tuple(s.step, s.factor, s.stop_factor_lr, s.count);
          },
          [](const py::tuple& t) {
            FactorScheduler s(t[0].cast<double>(), t[1].cast<double>(), t[2].cast<double>());
            s.count = t[3].cast<double>();
            return s;
          }));

  py::class_<MultiFactorScheduler, LRScheduler>(m, "MultiFactorScheduler", py::dynamic_attr())
      .def(py::init([](std::vector<double> step, double factor, double base_lr,
                       std::int64_t warmup_steps, double warmup_begin_lr, std::string mode) {
             MultiFactorScheduler s(std::move(step), factor, base_lr, warmup_steps,
                                    warmup_begin_lr, std::move(mode));
             with_logger(s);
             return s;
           }),
           py::arg("step"), py::arg("factor") = 1.0, py::arg("base_lr") = 0.01,
           py::arg("warmup_steps") = 0, py::arg("warmup_begin_lr") = 0.0,
           py::arg("warmup_mode") = "linear")
      .def("__call__", &MultiFactorScheduler::operator(), py::arg("num_update"))
      .def_property(
          "step",
          [](const MultiFactorScheduler& s) {
            py::list l;
            for (double v : s.step) l.append(number(v));
            return l;
          },
          [](MultiFactorScheduler& s, std::vector<double> v) { s.step = std::move(v); })
      .def_property("count", [](const MultiFactorScheduler& s) { return number(s.count); },
                    [](MultiFactorScheduler& s, double v) { s.count = v; })
      .def_readwrite("cur_step_ind", &MultiFactorScheduler::cur_step_ind)
      .def_readwrite("factor", &MultiFactorScheduler::factor)
      .def(make_pickle<MultiFactorScheduler>(
          [](const MultiFactorScheduler& s) {
            return py::make_tuple(s.step, s.factor, s.cur_step_ind, s.count);
          },
          [](const py::tuple& t) {
            MultiFactorScheduler s(t[0].cast<std::vector<double>>(), t[1].cast<double>());
            s.cur_step_ind = t[2].cast<std::size_t>();
            s.count = t[3].cast<double>();
            return s;
          }));

  py::class_<PolyScheduler, LRScheduler>(m, "PolyScheduler", py::dynamic_attr())
      .def(py::init([](std::int64_t max_update, double base_lr, double pwr, double final_lr,
                       std::int64_t warmup_steps, double warmup_begin_lr, std::string mode) {
             PolyScheduler s(max_update, base_lr, pwr, final_lr, warmup_steps, warmup_begin_lr,
                             std::move(mode));
             with_logger(s);
             return s;
           }),
           py::arg("max_update"), py::arg("base_lr") = 0.01, py::arg("pwr") = 2.0,
           py::arg("final_lr") = 0.0, py::arg("warmup_steps") = 0,
           py::arg("warmup_begin_lr") = 0.0, py::arg("warmup_mode") = "linear")
      .def("__call__", &PolyScheduler::operator(), py::arg("num_update"))
      .def_readwrite("power", &PolyScheduler::power)
      .def_readwrite("base_lr_orig", &PolyScheduler::base_lr_orig)
      .def_readwrite("max_update", &PolyScheduler::max_update)
      .def_readwrite("final_lr", &PolyScheduler::final_lr)
      .def_readwrite("max_steps", &PolyScheduler::max_steps)
      .def(make_pickle<PolyScheduler>(
          [](const PolyScheduler& s) {
            return py::make_tuple(s.max_update, s.power, s.base_lr_orig, s.final_lr, s.max_steps);
          },
          [](const py::tuple& t) {
            PolyScheduler s(t[0].cast<std::int64_t>(), 0.01, t[1].cast<double>());
            s.base_lr_orig = t[2].cast<double>();
            s.final_lr = t[3].cast<double>();
            s.max_steps = t[4].cast<std::int64_t>();
            return s;
          }));

  py::class_<CosineScheduler, LRScheduler>(m, "CosineScheduler", py::dynamic_attr())
      .def(py::init([](std::int64_t max_update, double base_lr, double final_lr,
                       std::int64_t warmup_steps, double warmup_begin_lr, std::string mode) {
             CosineScheduler s(max_update, base_lr, final_lr, warmup_steps, warmup_begin_lr,
                               std::move(mode));
             with_logger(s);
             return s;
           }),
           py::arg("max_update"), py::arg("base_lr") = 0.01, py::arg("final_lr") = 0.0,
           py::arg("warmup_steps") = 0, py::arg("warmup_begin_lr") = 0.0,
           py::arg("warmup_mode") = "linear")
      .def("__call__", &CosineScheduler::operator(), py::arg("num_update"))
      .def_readwrite("base_lr_orig", &CosineScheduler::base_lr_orig)
      .def_readwrite("max_update", &CosineScheduler::max_update)
      .def_readwrite("final_lr", &CosineScheduler::final_lr)
      .def_readwrite("max_steps", &CosineScheduler::max_steps)
      .def(make_pickle<CosineScheduler>(
          [](const CosineScheduler& s) {
            return py::make_tuple(s.max_update, s.base_lr_orig, s.final_lr, s.max_steps);
          },
          [](const py::tuple& t) {
            CosineScheduler s(t[0].cast<std::int64_t>());
            s.base_lr_orig = t[1].cast<double>();
            s.final_lr = t[2].cast<double>();
            s.max_steps = t[3].cast<std::int64_t>();
            return s;
          }));
}

}  // namespace mxopt::bindings
