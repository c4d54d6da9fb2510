"""atheris fuzz targets for mxopt's Python surface (untrusted files and bytes).

    python tests/fuzz/fuzz_python.py TARGET [libFuzzer options] [corpus dirs]

A target passes an input when mxopt either accepts it or raises a clear error (MXNetError,
ValueError, TypeError); any other exception, a crash or a hang is a finding. The optimizer
target also checks that a rejected update wrote nothing.

Targets: nd_load, symbol_json, updater_states (Updater.set_states(format="safe") on untrusted
bytes), optimizer_update (every optimizer on random shapes/dtypes/strides/hyper-parameters,
dense and row_sparse gradients, plain and multi_precision updates).
"""

import os
import sys
import tempfile

import atheris

with atheris.instrument_imports():
    import numpy as np

    import mxopt as mx
    from mxopt.base import MXNetError

CLEAR_ERRORS = (MXNetError, ValueError, TypeError)


def symbol_json(data: bytes) -> None:
    """mx.sym.load_json on arbitrary text; what loads must serialise and introspect."""
    text = data.decode("utf-8", "replace")
    try:
        sym = mx.sym.load_json(text)
    except CLEAR_ERRORS:
        return
    again = mx.sym.load_json(sym.tojson())
    assert again.tojson() == sym.tojson(), "tojson is not a fixed point after load"
    sym.list_arguments(), sym.list_outputs(), sym.list_auxiliary_states()


def nd_load(data: bytes) -> None:
    """mx.nd.load on an arbitrary file; what loads must save and load back equal. The files live
    in a directory of this input's own, removed before returning: a record of a few hundred bytes
    can load as an array of up to 1 GiB, and saved copies left behind filled the disk."""
    with tempfile.TemporaryDirectory(prefix="mxopt-fuzz-") as tmp:
        path = os.path.join(tmp, "in.params")
        with open(path, "wb") as f:
            f.write(data)
        try:
            loaded = mx.nd.load(path)
        except CLEAR_ERRORS:
            return
        out = os.path.join(tmp, "out.params")
        mx.nd.save(out, loaded)
        back = mx.nd.load(out)
    items = loaded.items() if isinstance(loaded, dict) else enumerate(loaded)
    for key, arr in items:
        other = back[key]
        assert arr.shape == other.shape and arr.dtype == other.dtype
        if arr.stype == "row_sparse":  # may be huge logically: compare what is stored
            np.testing.assert_array_equal(arr.indices.asnumpy(), other.indices.asnumpy())
            np.testing.assert_array_equal(arr.data.asnumpy(), other.data.asnumpy())
        elif arr.stype == "csr":
            for attr in ("data", "indices", "indptr"):
                np.testing.assert_array_equal(getattr(arr, attr).asnumpy(),
                                              getattr(other, attr).asnumpy())
        else:
            _assert_same(arr._data, other._data)


def _assert_same(a: np.ndarray, b: np.ndarray) -> None:
    """Equal arrays, compared in slices of views: a csr record of a few hundred bytes loads as a
    dense array of up to 1 GiB (mxopt's cap), and copying both sides for one comparison took the
    target past libFuzzer's 4 GB RSS limit."""
    x, y = a.reshape(-1), b.reshape(-1)
    assert x.shape == y.shape
    step = 1 << 22
    for i in range(0, x.size, step):
        np.testing.assert_array_equal(x[i:i + step], y[i:i + step])


def updater_states(data: bytes) -> None:
    """Updater.set_states(format='safe') on arbitrary bytes; what loads must round-trip."""
    up = mx.optimizer.get_updater(mx.optimizer.create("adam"))
    try:
        up.set_states(data, format="safe")
    except CLEAR_ERRORS:
        assert up.states == {} and up.optimizer.num_update == 0, "rejected input changed state"
        return
    blob = up.get_states(dump_optimizer=True, format="safe")
    again = mx.optimizer.get_updater(mx.optimizer.create("adam"))
    again.set_states(blob, format="safe")
    assert again.get_states(dump_optimizer=True, format="safe") == blob, "not a fixed point"


OPTIMIZERS = sorted(mx.optimizer.Optimizer.opt_registry)
DTYPES = [np.float32, np.float16, np.float64, np.int32]
FLOAT_PARAMS = ["learning_rate", "wd", "rescale_grad", "clip_gradient", "momentum", "beta1",
                "beta2", "epsilon", "gamma1", "gamma2", "lamda1", "beta", "rho", "eps",
                "wd_lh", "clip_weights", "lower_bound", "upper_bound", "eta", "lamda"]
SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, 1e-45, 1e-38, 1e30, 3.4e38, float("inf"), float("-inf"),
           float("nan"), 65504.0, 1e-8]


def _array(fdp, shape, dtype):
    """A C-contiguous array, or (sometimes) a strided/offset view of a larger one."""
    n = int(np.prod(shape)) if shape else 1
    vals = [fdp.PickValueInList(SPECIAL) if fdp.ConsumeBool() else fdp.ConsumeRegularFloat()
            for _ in range(min(n, 4))]
    base = np.resize(np.array(vals or [0.0], np.float64), max(n, 1))
    with np.errstate(all="ignore"):
        arr = base[:n].astype(dtype).reshape(shape)
    if shape and fdp.ConsumeIntInRange(0, 5) == 0:
        big = np.zeros(shape[:-1] + (shape[-1] * 2,), dtype)
        big[..., ::2] = arr
        arr = big[..., ::2]  # non-contiguous view
    if fdp.ConsumeIntInRange(0, 9) == 0:
        arr.setflags(write=False)
    return arr


def _flat(x):
    if x is None:
        return []
    if isinstance(x, (tuple, list)):
        return [a for s in x for a in _flat(s)]
    if hasattr(x, "indices"):
        return [np.array(x.data.asnumpy()), np.array(x.indices.asnumpy())]
    return [np.array(x.asnumpy() if hasattr(x, "asnumpy") else x, copy=True)]


def _same(a, b):
    return len(a) == len(b) and all(x.shape == y.shape and x.tobytes() == y.tobytes()
                                    for x, y in zip(a, b))


def optimizer_update(data: bytes) -> None:
    """One optimizer step on fuzzed inputs: never a crash; a rejected step writes nothing."""
    fdp = atheris.FuzzedDataProvider(data)
    name = fdp.PickValueInList(OPTIMIZERS)
    kwargs = {}
    for _ in range(fdp.ConsumeIntInRange(0, 4)):
        key = fdp.PickValueInList(FLOAT_PARAMS)
        kwargs[key] = fdp.PickValueInList(SPECIAL) if fdp.ConsumeBool() else fdp.ConsumeRegularFloat()
    mp = fdp.ConsumeBool()
    kwargs["multi_precision"] = mp
    ndim = fdp.ConsumeIntInRange(0, 3)
    shape = tuple(fdp.ConsumeIntInRange(0, 5) for _ in range(ndim))
    wdt = fdp.PickValueInList(DTYPES)
    gdt = wdt if fdp.ConsumeIntInRange(0, 4) else fdp.PickValueInList(DTYPES)
    gshape = shape if fdp.ConsumeIntInRange(0, 6) else tuple(d + 1 for d in shape)
    try:
        opt = mx.optimizer.create(name, **kwargs)
    except CLEAR_ERRORS:
        return
    weight = _array(fdp, shape, wdt)
    rsp = ndim >= 1 and fdp.ConsumeIntInRange(0, 3) == 0
    if rsp:
        k = fdp.ConsumeIntInRange(0, 3)
        idx = [fdp.ConsumeIntInRange(-2, max(shape[0], 1) + 1) for _ in range(k)]
        if fdp.ConsumeBool():
            idx = sorted(set(idx))
        vals = _array(fdp, (k,) + gshape[1:], gdt)
        try:
            grad = mx.nd.sparse.row_sparse_array((np.ascontiguousarray(vals), idx), shape=gshape)
        except CLEAR_ERRORS:
            return
    else:
        grad = _array(fdp, gshape, gdt)
    wt = mx.nd.array(weight, dtype=wdt) if fdp.ConsumeBool() and weight.flags.writeable else weight
    try:
        state = opt.create_state_multi_precision(0, wt)
    except CLEAR_ERRORS:
        return
    before = _flat(wt) + _flat(state)
    try:
        with np.errstate(all="ignore"):
            opt.update_multi_precision(0, wt, grad, state)
    except CLEAR_ERRORS:
        assert _same(before, _flat(wt) + _flat(state)), f"{name}: rejected update wrote data"


TARGETS = {"symbol_json": symbol_json, "nd_load": nd_load, "updater_states": updater_states,
           "optimizer_update": optimizer_update}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(TARGETS)}}} [libFuzzer args]")
    target = TARGETS[sys.argv[1]]
    atheris.Setup([sys.argv[0]] + sys.argv[2:], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
