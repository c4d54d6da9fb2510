"""A fixed trace of mxopt's results, as SHA-256 digests of the exact bytes, for comparing two
numpy versions (scripts/test.sh runs it under numpy 1.23.5 and the newest numpy 2.x, and
compare.py requires the two traces to be identical).

Covered: every registered optimizer on float32, float64 and float16 weights (float16 with and
without multi_precision), dense, and lazy row_sparse where the optimizer has it; every
initializer after ``mx.random.seed``; both random generators; every scheduler's values; and a
Module.fit run of the seed program. Python floats and numpy scalars are mixed into the
hyper-parameters on purpose: numpy 2's scalar promotion rules (NEP 50) must not change a bit.

    python tests/numpy_trace/trace_results.py OUT.json
"""

from __future__ import annotations

import hashlib
import json
import sys
import warnings
from typing import Any, Dict

import numpy as np

import mxopt as mx

warnings.simplefilter("ignore")  # float16 accumulation warnings


def digest(*arrays: Any) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = a.asnumpy() if hasattr(a, "asnumpy") else np.asarray(a)
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def flat_states(state: Any) -> list:
    if state is None:
        return []
    if isinstance(state, (tuple, list)):
        return [x for s in state for x in flat_states(s)]
    return [state]


def optimizer_trace(out: Dict[str, str]) -> None:
    names = sorted(mx.optimizer.Optimizer.opt_registry)
    for name in names:
        for dtype, mp in (("float32", False), ("float64", False), ("float16", False),
                          ("float16", True)):
            rng = np.random.RandomState(7)
            kw: Dict[str, Any] = dict(learning_rate=np.float32(0.01), wd=np.float32(1e-4),
                                      rescale_grad=np.float64(0.5), multi_precision=mp)
            if name == "lbsgd":
                kw["warmup_epochs"] = 1
            try:
                opt = mx.optimizer.create(name, **kw)
            except (TypeError, ValueError) as exc:
                out[f"opt/{name}/{dtype}/mp={mp}"] = f"refused: {type(exc).__name__}"
                continue
            if name == "groupadagrad":
                opt.wd = 0.0  # MXNet's GroupAdaGrad refuses weight decay
            opt.set_lr_mult({0: np.float32(0.5)} if dtype == "float32" else {0: 0.5})
            w = mx.nd.array(rng.uniform(-1, 1, (6, 5)).astype(dtype), dtype=dtype)
            try:
                state = opt.create_state_multi_precision(0, w)
                for step in range(3):
                    g = mx.nd.array(rng.uniform(-1, 1, (6, 5)).astype(dtype), dtype=dtype)
                    opt.update_multi_precision(0, w, g, state)
                out[f"opt/{name}/{dtype}/mp={mp}"] = digest(w, *flat_states(state))
            except (TypeError, ValueError, AssertionError) as exc:
                out[f"opt/{name}/{dtype}/mp={mp}"] = f"refused: {type(exc).__name__}"
    # lazy row_sparse updates
    for name in ("sgd", "adam", "adagrad", "ftrl"):
        rng = np.random.RandomState(3)
        extra = {"sgd": {"momentum": 0.9, "lazy_update": True}, "adam": {"lazy_update": True}}
        opt = mx.optimizer.create(name, learning_rate=0.1, wd=0.0 if name == "adagrad" else 1e-3,
                                  **extra.get(name, {}))
        w = mx.nd.array(rng.uniform(-1, 1, (20, 4)).astype("float32"))
        state = opt.create_state(0, w)
        for _ in range(3):
            rows = np.array([1, 5, 6, 17])
            g = mx.nd.sparse.row_sparse_array(
                (rng.uniform(-1, 1, (4, 4)).astype("float32"), rows), shape=(20, 4))
            opt.update(0, w, g, state)
        out[f"opt_rsp/{name}"] = digest(w, *flat_states(state))


def initializer_trace(out: Dict[str, str]) -> None:
    inits = {
        "uniform": mx.init.Uniform(0.07), "normal": mx.init.Normal(0.02),
        "xavier": mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2.34),
        "msraprelu": mx.init.MSRAPrelu(), "orthogonal": mx.init.Orthogonal(),
        "bilinear": mx.init.Bilinear(), "constant": mx.init.Constant(0.3),
    }
    for generator in ("mxnet", "philox"):
        for key, init in inits.items():
            mx.random.seed(11, generator=generator)
            shape = (4, 3, 4, 4) if key == "bilinear" else (16, 12)
            arr = mx.nd.zeros(shape)
            init(mx.init.InitDesc(f"layer_{key}_weight"), arr)
            out[f"init/{generator}/{key}"] = digest(arr)
        mx.random.seed(5, generator=generator)
        out[f"random/{generator}"] = digest(mx.random.uniform(-1, 1, shape=(100,)),
                                            mx.random.normal(0, 2, shape=(100,)))


def scheduler_trace(out: Dict[str, str]) -> None:
    S = mx.lr_scheduler
    scheds = {
        "factor": S.FactorScheduler(step=7, factor=np.float32(0.9), base_lr=0.1),
        "multifactor": S.MultiFactorScheduler(step=[5, 11, 40], factor=0.5, base_lr=1.0),
        "poly": S.PolyScheduler(max_update=60, base_lr=0.2, pwr=2, final_lr=1e-3,
                                warmup_steps=5),
        "cosine": S.CosineScheduler(max_update=60, base_lr=0.2, final_lr=1e-4,
                                    warmup_steps=6, warmup_mode="linear"),
    }
    for key, s in scheds.items():
        out[f"sched/{key}"] = repr([s(n) for n in range(1, 80)])


def module_trace(out: Dict[str, str]) -> None:
    from mxopt.demo import synthetic_data
    x, y = synthetic_data(600, 42)
    mx.random.seed(42)
    np.random.seed(42)  # NDArrayIter shuffles with numpy's global generator, as MXNet's does
    it = mx.io.NDArrayIter(x, y, batch_size=50, shuffle=True)
    data = mx.sym.Variable("data")
    fc = mx.sym.FullyConnected(data, name="fc1", num_hidden=16)
    act = mx.sym.Activation(fc, act_type="relu")
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(act, name="fc2", num_hidden=10),
                               name="softmax")
    mod = mx.mod.Module(net)
    mod.fit(it, num_epoch=2, initializer=mx.init.Xavier(),
            optimizer_params={"learning_rate": 0.1, "momentum": 0.9,
                              "lr_scheduler": mx.lr_scheduler.FactorScheduler(5, 0.9)})
    arg, aux = mod.get_params()
    out["module/fit"] = digest(*[arg[k] for k in sorted(arg)])


def main() -> int:
    out: Dict[str, str] = {}
    optimizer_trace(out)
    initializer_trace(out)
    scheduler_trace(out)
    module_trace(out)
    with open(sys.argv[1], "w") as f:
        json.dump({"numpy": np.__version__, "results": out}, f, indent=1, sort_keys=True)
    print(f"{len(out)} results traced under numpy {np.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
