"""Bad-input audit of every public optimizer entry point (issue 7): each row of AUDIT is
(entry point, input tried, expected exception, message pattern). Every row must raise that
clear exception and leave weights, states, update counts and the Updater unchanged (direct
Optimizer.update calls advance the update count as MXNet 1.9.1 does; arrays stay unchanged).
(Per-optimizer rows for bad arrays / states / row_sparse indices / hyper-parameters are in
test_optimizer.py; this table covers the entry points themselves.)"""
import pickle

import numpy as np
import pytest

import mxopt as mx

OPT = mx.optimizer
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _w(shape=(4, 3), dtype=np.float32, val=1.0):
    return np.full(shape, val, dtype)


def _rsp(data, idx, shape):
    return mx.nd.sparse.row_sparse_array((np.asarray(data, np.float32), idx), shape=shape)


class Env:
    """A trained Updater (2 indices) whose complete state is snapshotted before each row."""

    def __init__(self, name="adam", **kw):
        self.opt = OPT.create(name, learning_rate=0.1, **kw)
        self.up = OPT.get_updater(self.opt)
        self.ws = [_w(), _w((5,))]
        for i, w in enumerate(self.ws):
            self.up(i, np.full(w.shape, 0.5, np.float32), w)

    def snapshot(self):
        return (pickle.dumps(self.up.states), [w.tobytes() for w in self.ws],
                dict(self.opt._index_update_count), self.opt.num_update)


def _strided():
    return np.ones((4, 6), np.float32)[:, ::2]


def _readonly():
    w = _w()
    w.setflags(write=False)
    return w


AUDIT = [
    # (entry point, input tried, action(env), exception, message)
    ("optimizer.create", "unknown name", lambda e: OPT.create("adamz"), ValueError,
     "Cannot find optimizer adamz"),
    ("optimizer.create", "name not a str", lambda e: OPT.create(3), TypeError,
     "optimizer name must be a str"),
    ("optimizer.create", "unknown keyword", lambda e: OPT.create("sgd", momentun=0.9), TypeError,
     "unexpected keyword argument 'momentun'"),
    ("optimizer.create", "param_idx2name not a dict", lambda e: OPT.create("sgd", param_idx2name=[1]),
     AssertionError, "param_idx2name should be a dict"),
    ("optimizer.create", "LANS aggregate_num > 45", lambda e: OPT.create("lans", aggregate_num=46),
     ValueError, "aggregate_num <= 45"),
    ("GroupAdaGrad.create_state", "1-D weight", lambda e: OPT.create("groupadagrad").create_state(0, _w((3,))),
     ValueError, "2-D weight"),
    ("Updater.__call__", "grad shape != weight shape", lambda e: e.up(0, _w((3, 4)), e.ws[0]),
     ValueError, r"grad of index 0 has shape \(3, 4\) but weight has shape \(4, 3\)"),
    ("Updater.__call__", "grad dtype != weight dtype", lambda e: e.up(0, _w(dtype=np.float64), e.ws[0]),
     TypeError, "grad of index 0 has dtype float64 but weight has dtype float32"),
    ("Updater.__call__", "int32 weight and grad (new index)",
     lambda e: e.up(7, _w(dtype=np.int32), _w(dtype=np.int32)), TypeError, "dtype"),
    ("Updater.__call__", "read-only weight (new index)", lambda e: e.up(7, _w(), _readonly()),
     ValueError, "read-only"),
    ("Updater.__call__", "non-contiguous weight view (new index)", lambda e: e.up(7, _w(), _strided()),
     ValueError, "C-contiguous"),
    ("Updater.__call__", "non-contiguous grad view", lambda e: e.up(0, _strided(), e.ws[0]),
     ValueError, "C-contiguous"),
    ("Updater.__call__", "grad is a list", lambda e: e.up(0, [[1.0] * 3] * 4, e.ws[0]), TypeError,
     "must be an mx.nd.NDArray or a numpy.ndarray"),
    ("Updater.__call__", "list lengths differ", lambda e: e.up([0, 1], [_w()], e.ws), ValueError,
     "lengths must match"),
    ("Updater.__call__", "list whose LAST item is bad (earlier items untouched)",
     lambda e: e.up([0, 1], [_w(), _w((6,))], e.ws), ValueError, "grad of index 1 has shape"),
    ("Updater.__call__", "row_sparse grad: unsorted rows",
     lambda e: e.up(0, _rsp([[1] * 3] * 2, [3, 1], (4, 3)), e.ws[0]), ValueError, "increasing"),
    ("Updater.__call__", "row_sparse grad: row out of range",
     lambda e: e.up(0, _rsp([[1] * 3] * 2, [1, 4], (4, 3)), e.ws[0]), ValueError, "out of range"),
    ("Updater.__call__", "row_sparse grad: negative row",
     lambda e: e.up(0, _rsp([[1] * 3], [-1], (4, 3)), e.ws[0]), ValueError, "out of range"),
    ("Updater.__call__", "row_sparse grad of another shape",
     lambda e: e.up(0, _rsp([[1] * 3], [0], (5, 3)), e.ws[0]), ValueError, "has shape"),
    ("Optimizer.update", "state arrays of the wrong shape",
     lambda e: e.opt.update(0, e.ws[0], _w(), (np.zeros((3, 4), np.float32),) * 2), ValueError,
     "shape"),
    ("Optimizer.update", "grad dtype float64",
     lambda e: e.opt.update(0, e.ws[0], _w(dtype=np.float64), e.up.states[0]), TypeError, "dtype"),
    ("Optimizer.update", "read-only weight",
     lambda e: e.opt.update(0, _readonly(), _w(), e.up.states[0]), ValueError, "read-only"),
    ("Optimizer.update", "byte-swapped grad",
     lambda e: e.opt.update(0, e.ws[0], _w().astype(">f4"), e.up.states[0]), TypeError,
     "native byte order"),
    ("Optimizer.update_multi_precision", "read-only float16 weight (master must stay unchanged)",
     lambda e: _mp_readonly(), ValueError, "read-only"),
    ("Optimizer.update", "adam beta1=1: zero bias correction (MXNet: ZeroDivisionError)",
     lambda e: _adam_beta1_one(e), ZeroDivisionError, "bias correction 1 - beta1\\*\\*t is 0"),
    ("Optimizer.update", "DCASGD with momentum (MXNet: assert)",
     lambda e: _dcasgd_momentum(), ValueError, "non-zero momentum cannot run"),
    ("Updater.set_states", "safe format: not our header",
     lambda e: e.up.set_states(b"\x80\x04garbage", format="safe"), ValueError, "header"),
    ("Updater.set_states", "safe format: not bytes",
     lambda e: e.up.set_states("text", format="safe"), TypeError, "must be bytes"),
    ("Updater.set_states", "safe format: truncated",
     lambda e: e.up.set_states(e.up.get_states(format="safe")[:-9], format="safe"), ValueError,
     "invalid safe updater state"),
    ("Updater.set_states", "safe bytes passed as pickle",
     lambda e: e.up.set_states(e.up.get_states(format="safe")), ValueError, "format='safe'"),
    ("Updater.set_states", "unknown format",
     lambda e: e.up.set_states(b"", format="yaml"), ValueError, "format must be"),
    ("Updater.set_states", "safe states of another optimizer class",
     lambda e: e.up.set_states(_sgd_states(), format="safe"), ValueError, "saved with optimizer 'SGD'"),
    ("Updater.get_states", "unknown format", lambda e: e.up.get_states(format="npz"), ValueError,
     "format must be"),
]


def _mp_readonly():
    opt = OPT.create("sgld", multi_precision=True)
    w16 = np.ones((3,), np.float16)
    state = opt.create_state_multi_precision(0, w16)
    master = state[0].copy()
    w16.setflags(write=False)
    try:
        opt.update_multi_precision(0, w16, np.ones((3,), np.float16), state)
    finally:
        assert np.array_equal(state[0], master), "master copy written before the failure"


def _adam_beta1_one(env):
    opt = OPT.create("adam", beta1=1.0)
    w = _w()
    state = opt.create_state(0, w)
    try:
        opt.update(0, w, _w(), state)
    finally:
        assert np.array_equal(w, _w()) and not any(s.any() for s in state)
    raise AssertionError("not reached")


def _dcasgd_momentum():
    opt = OPT.create("dcasgd", momentum=0.9)
    w = np.ones((1,), np.float32)
    state = (np.zeros((1,), np.float32), w.copy())
    try:
        opt.update(0, w, np.ones((1,), np.float32), state)
    finally:
        assert np.array_equal(w, np.ones((1,), np.float32))


def _sgd_states():
    up = OPT.get_updater(OPT.create("sgd", momentum=0.9))
    up(0, _w(), _w())
    return up.get_states(dump_optimizer=True, format="safe")


@pytest.mark.parametrize("entry,tried,action,exc,msg", AUDIT,
                         ids=[f"{a}: {b}" for a, b, *_ in AUDIT])
def test_bad_input_raises_clearly_and_changes_nothing(entry, tried, action, exc, msg):
    env = Env()
    before = env.snapshot()
    with pytest.raises(exc, match=msg):
        action(env)
    after = env.snapshot()
    if entry.startswith("Optimizer.update"):
        # Direct Optimizer.update calls count the update before validating, as MXNet 1.9.1
        # does (its Python side counts, then the operator rejects): arrays stay unchanged.
        assert after[:2] == before[:2]
    else:
        assert after == before
    # and the Updater still works afterwards
    env.up(0, np.full((4, 3), 0.5, np.float32), env.ws[0])


def test_restored_states_that_do_not_fit_the_weight_are_rejected():
    env = Env()
    blob = env.up.get_states(format="safe")
    other = OPT.get_updater(OPT.create("adam", learning_rate=0.1))
    other.set_states(blob, format="safe")
    w = _w((2, 2))
    with pytest.raises(ValueError, match=r"restored state\[0\] of index 0 does not fit"):
        other(0, _w((2, 2)), w)
    assert np.array_equal(w, _w((2, 2)))
    mom = OPT.get_updater(OPT.create("sgd", momentum=0.9))
    mom(0, _w(), _w())
    plain = OPT.get_updater(OPT.create("sgd"))
    plain.set_states(mom.get_states(format="safe"), format="safe")
    with pytest.raises(ValueError, match="expected no state"):
        plain(0, _w(), _w())


def test_assertion_style_errors_are_also_value_errors_and_survive_python_O():
    with pytest.raises(AssertionError):  # what MXNet raises
        OPT.LANS(aggregate_num=46)
    with pytest.raises(ValueError):
        OPT.LANS(aggregate_num=46)


# ---- malformed states passed to Optimizer.update directly -----------------------------------
STATE_CASES = [("sgd", dict(momentum=0.9)), ("sgd", {}), ("nag", dict(momentum=0.9)),
               ("adam", {}), ("adamw", {}), ("adabelief", {}), ("adagrad", {}),
               ("rmsprop", dict(centered=True)), ("rmsprop", {}), ("adadelta", {}),
               ("ftrl", {}), ("adamax", {}), ("nadam", {}), ("ftml", {}),
               ("signum", dict(momentum=0.9)), ("dcasgd", {}), ("lbsgd", dict(momentum=0.9)),
               ("lamb", {}), ("lans", {}), ("lars", dict(momentum=0.9)), ("groupadagrad", {}),
               ("sgld", {}), ("ccsgd", dict(momentum=0.9))]


def _malformations(good):
    """(description, bad state) pairs that do not have the structure of ``good``."""
    arr = np.zeros((4, 3), np.float32)
    if good is None:
        return [("an array for a stateless optimizer", arr), ("a tuple", (arr, arr))]
    if isinstance(good, tuple):
        out = [("tuple one item short", good[:-1]), ("tuple one item long", good + (arr,)),
               ("None", None), ("a str", "state")]
        for i, s in enumerate(good):
            if s is not None:
                out.append((f"None at item {i}", good[:i] + (None,) + good[i + 1:]))
                break
        return out
    return [("None", None), ("a 2-tuple of arrays", (arr, arr)), ("a str", "state"),
            ("a list of numbers", [1.0, 2.0])]


# Forms MXNet 1.9.1 accepts on purpose (the state itself selects the update): SGD-family
# momentum is applied only when a state is given (None = plain SGD; an array for an optimizer
# created without momentum = momentum SGD; a tuple = the multi-precision form), and SGLD
# ignores its state. These run, as in MXNet, and are not errors.
MXNET_ACCEPTS = {("sgd", "None"), ("sgd", "an array for a stateless optimizer"),
                 ("sgd", "a tuple"), ("nag", "None"), ("signum", "None"), ("lbsgd", "None"),
                 ("lars", "None"), ("ccsgd", "None"),
                 ("sgld", "an array for a stateless optimizer"), ("sgld", "a tuple")}


@pytest.mark.parametrize("name,kw", STATE_CASES, ids=[f"{n}-{i}" for i, (n, _) in
                                                      enumerate(STATE_CASES)])
def test_malformed_state_in_direct_update_is_a_clear_type_error(name, kw):
    opt = OPT.create(name, learning_rate=0.1, **kw)
    w0 = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
    good = opt.create_state(0, w0.copy())
    for what, bad in _malformations(good):
        w = w0.copy()
        if (name, what) in MXNET_ACCEPTS:
            opt.update(0, w, np.ones((4, 3), np.float32), bad)
            assert not np.array_equal(w, w0)
            continue
        with pytest.raises(TypeError, match=r"malformed state for index 0: expected .* got ") as ei:
            opt.update(0, w, np.ones((4, 3), np.float32), bad)
        assert "not enough values" not in str(ei.value), what
        assert type(opt).__name__ + ".update" in str(ei.value), what
        assert np.array_equal(w, w0), f"{name}: weight written with {what}"


@pytest.mark.parametrize("name,kw", STATE_CASES, ids=[f"{n}-{i}" for i, (n, _) in
                                                      enumerate(STATE_CASES)])
def test_malformed_state_put_into_an_updater_gets_the_same_diagnosis(name, kw):
    """A state replaced in ``Updater.states`` behind its back: one-tensor and list calls (which
    otherwise run multi-tensor kernels, and plans) take the per-index path, so the errors and
    the forms MXNet accepts are those of ``update`` itself."""
    w0 = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
    g = np.ones((4, 3), np.float32)
    good = OPT.create(name, learning_rate=0.1, **kw).create_state(0, w0.copy())
    for what, bad in _malformations(good):
        for form in ("one", "list"):
            up = OPT.get_updater(OPT.create(name, learning_rate=0.1, **kw))
            ws = [w0.copy(), w0.copy()]
            for _ in range(2):  # the second call runs the step plan, if any
                up([0, 1], [g, g], ws)
            up.states[1] = bad
            before = ws[1].copy()
            call = (lambda: up(1, g, ws[1])) if form == "one" else (
                lambda: up([0, 1], [g, g], ws))
            if (name, what) in MXNET_ACCEPTS and (form == "one"
                                                  or up.optimizer.aggregate_num == 0):
                call()
                assert not np.array_equal(ws[1], before), (what, form)
                continue
            if (name, what) in MXNET_ACCEPTS:
                # A list an aggregating optimizer passes as one multi-tensor call: accepted
                # where the multi-tensor kernel does not read the state (SGD without
                # momentum), as in MXNet, whose multi_* operators otherwise need every state.
                try:
                    call()
                    assert not np.array_equal(ws[1], before), (what, form)
                    continue
                except TypeError as exc:
                    assert "malformed state for index 1" in str(exc), (what, str(exc))
                    assert np.array_equal(ws[1], before), (what, form)
                    continue
            with pytest.raises(TypeError, match=r"malformed state for index 1: expected .* "
                                                r"got ") as ei:
                call()
            assert "not enough values" not in str(ei.value), (what, form)
            assert np.array_equal(ws[1], before), f"{name}: weight written with {what}, {form}"


def test_malformed_multi_precision_state_names_the_expected_structure():
    opt = OPT.create("adam", multi_precision=True)
    w16 = np.ones((3,), np.float16)
    good = opt.create_state_multi_precision(0, w16)
    for bad in [good[0], (good[0],), (good[0], None), (None, good[1])]:
        w = w16.copy()
        with pytest.raises(TypeError, match=r"Adam.update_multi_precision: malformed state .*"
                                            r"expected \(array, \(array, array\)\)"):
            opt.update_multi_precision(0, w, np.ones((3,), np.float16), bad)
        assert np.array_equal(w, w16)
    # a well-formed state with a bad array is still reported by the kernel's own check
    with pytest.raises(ValueError, match="shape"):
        opt.update(0, np.ones((3,), np.float32), np.ones((3,), np.float32),
                   (np.zeros((2,), np.float32), np.zeros((3,), np.float32)))


# ---- the other public entry points ----------------------------------------------------------
# Rows: (entry point, input tried, setup() -> object, action(object), exception, message,
# snapshot(object) of the state that must stay untouched, or None when there is no state).
# Exception types follow MXNet 1.9.1 (AssertionError for its call-order asserts, MXNetError for
# its C++ checks, ValueError/TypeError elsewhere); where MXNet silently accepts an input that
# cannot work (NDArrayIter lengths / batch_size), mxopt raises instead (noted in the rows).
def _net():
    fc = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=3, name="fc")
    return mx.sym.SoftmaxOutput(fc, name="softmax")


def _batch(x, y=None):
    return mx.io.DataBatch(data=[mx.nd.array(x)], label=None if y is None else [mx.nd.array(y)])


def _mod(stage="new"):
    """A Module at a stage of its life: new, bound, initialised or with an optimizer."""
    mod = mx.mod.Module(_net())
    if stage == "new":
        return mod
    mod.bind(data_shapes=[("data", (4, 5))], label_shapes=[("softmax_label", (4,))])
    if stage == "bound":
        return mod
    mx.random.seed(3)
    mod.init_params(mx.init.Uniform(0.5))
    if stage == "init":
        return mod
    mod.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 0.1, "momentum": 0.9})
    mod.forward(_batch(np.ones((4, 5)), np.zeros(4)))
    mod.backward()
    mod.update()
    return mod


def _mod_snap(mod):
    out = [mod.binded, mod.params_initialized, mod.optimizer_initialized]
    if mod.params_initialized:
        args, auxs = mod.get_params()
        out.append({k: v.asnumpy().tobytes() for k, v in {**args, **auxs}.items()})
    if mod.optimizer_initialized:
        out.append(pickle.dumps(mod._updater.states))
    return out


def _metric_snap(m):
    return (m.sum_metric, m.num_inst)


def _arr_snap(a):
    return a.asnumpy().tobytes()


def _no_file(path):
    def check(_):
        import os
        return os.path.exists(path)
    return check


_FIT_IT = lambda: mx.io.NDArrayIter(np.ones((8, 5)), np.zeros(8), batch_size=4)  # noqa: E731
_X = lambda: mx.nd.zeros((3, 4))  # noqa: E731

API_AUDIT = [
    # -- mx.mod.Module
    ("Module.bind", "data name not in the symbol", lambda: _mod(),
     lambda m: m.bind(data_shapes=[("x", (4, 5))], label_shapes=[("softmax_label", (4,))]),
     ValueError, r"don't match names specified by data_names", _mod_snap),
    ("Module.bind", "shape is an int, not a tuple", lambda: _mod(),
     lambda m: m.bind(data_shapes=[("data", 5)], label_shapes=[("softmax_label", (4,))]),
     TypeError, r"shape of 'data' must be a tuple of ints, got 5", _mod_snap),
    ("Module.init_params", "unbound", lambda: _mod(), lambda m: m.init_params(),
     AssertionError, "call bind before initializing the parameters", _mod_snap),
    ("Module.init_params", "arg_params of the wrong shape", lambda: _mod("bound"),
     lambda m: m.init_params(arg_params={"fc_weight": mx.nd.ones((2, 2)), "fc_bias": mx.nd.ones((3,))}),
     ValueError, r"parameter 'fc_weight': shape \(2, 2\) does not match the bound shape \(3, 5\)",
     _mod_snap),
    ("Module.init_params", "missing arg_params with allow_missing=False", lambda: _mod("bound"),
     lambda m: m.init_params(arg_params={"fc_bias": mx.nd.ones((3,))}),
     RuntimeError, "fc_weight is not presented", _mod_snap),
    ("Module.forward", "unbound", lambda: _mod(), lambda m: m.forward(_batch(np.ones((4, 5)))),
     AssertionError, "call bind and init_params before forward", _mod_snap),
    ("Module.forward", "bound, parameters not initialised", lambda: _mod("bound"),
     lambda m: m.forward(_batch(np.ones((4, 5)), np.zeros(4))),
     AssertionError, "call bind and init_params before forward", _mod_snap),
    ("Module.forward", "data of another feature size (would reshape a parameter)",
     lambda: _mod("opt"), lambda m: m.forward(_batch(np.ones((4, 7)), np.zeros(4))),
     mx.base.MXNetError, r"fc_weight from \(3, 5\) to \(3, 7\)", _mod_snap),
    ("Module.forward", "batch without data arrays", lambda: _mod("opt"),
     lambda m: m.forward(mx.io.DataBatch(data=[], label=[mx.nd.zeros(4)])),
     ValueError, r"the batch has 0 data arrays, the module takes 1 \(\['data'\]\)", _mod_snap),
    ("Module.backward", "before init_params", lambda: _mod("bound"), lambda m: m.backward(),
     AssertionError, "call bind and init_params before backward", _mod_snap),
    ("Module.update", "before init_optimizer", lambda: _mod("init"), lambda m: m.update(),
     AssertionError, "init_optimizer before update", _mod_snap),
    ("Module.init_optimizer", "unbound", lambda: _mod(), lambda m: m.init_optimizer(),
     AssertionError, "call bind and init_params before init_optimizer", _mod_snap),
    ("Module.init_optimizer", "unknown optimizer name", lambda: _mod("init"),
     lambda m: m.init_optimizer(optimizer="nosuchopt"), ValueError,
     "Cannot find optimizer nosuchopt", _mod_snap),
    ("Module.fit", "unknown optimizer name", lambda: _mod(),
     lambda m: m.fit(_FIT_IT(), num_epoch=1, optimizer="nosuchopt"), ValueError,
     "Cannot find optimizer nosuchopt", None),
    ("Module.get_params", "unbound", lambda: _mod(), lambda m: m.get_params(),
     AssertionError, r"call init_params \(or set_params\) first", _mod_snap),
    ("Module.save_checkpoint", "unbound (no file written; MXNet writes the symbol file)",
     lambda: _mod(), lambda m: m.save_checkpoint("/tmp/mxopt-audit-never", 1), AssertionError,
     r"call init_params \(or set_params\) first", _no_file("/tmp/mxopt-audit-never-symbol.json")),
    ("Module.save_checkpoint", "save_optimizer_states without an optimizer (no file written)",
     lambda: _mod("init"),
     lambda m: m.save_checkpoint("/tmp/mxopt-audit-never", 1, save_optimizer_states=True),
     AssertionError, "call init_optimizer first", _no_file("/tmp/mxopt-audit-never-symbol.json")),
    ("Module.load", "missing checkpoint", lambda: None,
     lambda _: mx.mod.Module.load("/nonexistent-dir/ck", 3), FileNotFoundError,
     "nonexistent-dir/ck-symbol.json", None),
    ("Module.load_optimizer_states", "missing file", lambda: _mod("opt"),
     lambda m: m.load_optimizer_states("/nonexistent-dir/x.states"), FileNotFoundError,
     "x.states", _mod_snap),
    # -- mx.sym
    ("sym.load_json", "not JSON", lambda: None, lambda _: mx.sym.load_json("{not json"),
     mx.base.MXNetError, "Invalid symbol JSON", None),
    ("sym.load_json", "JSON without nodes/heads", lambda: None,
     lambda _: mx.sym.load_json('{"a": 1}'), mx.base.MXNetError,
     "'nodes' and 'heads' lists are required", None),
    ("sym.load_json", "not a str", lambda: None, lambda _: mx.sym.load_json(3), TypeError,
     "fname required to be string", None),
    ("sym.load", "missing file", lambda: None, lambda _: mx.sym.load("/nonexistent-dir/s.json"),
     FileNotFoundError, "s.json", None),
    ("Symbol.infer_shape", "unknown argument name", lambda: _net(),
     lambda s: s.infer_shape(nope=(2, 3)), mx.base.MXNetError,
     "InferShapeKeyword argument name nope not found", None),
    ("Symbol.infer_shape", "weight shape inconsistent with data", lambda: _net(),
     lambda s: s.infer_shape(data=(4, 5), fc_weight=(2, 2)), mx.base.MXNetError,
     r"Error in operator fc: Shape inconsistent, Provided = \[2,2\], inferred shape=\[3,5\]", None),
    ("mx.sym.<op>", "unknown operator", lambda: None,
     lambda _: mx.sym.NoSuchOp(mx.sym.Variable("a")), AttributeError, "NoSuchOp", None),
    ("mx.sym.<op>", "unknown attribute", lambda: None,
     lambda _: mx.sym.FullyConnected(mx.sym.Variable("a"), num_hidden=3, bogus=1),
     mx.base.MXNetError, "Cannot find argument 'bogus'", None),
    ("mx.sym.<op>", "required attribute missing", lambda: None,
     lambda _: mx.sym.FullyConnected(mx.sym.Variable("a")), mx.base.MXNetError,
     "Required parameter num_hidden of int is not presented", None),
    # -- mx.io.NDArrayIter (MXNet accepts the first four and fails or loops later)
    ("io.NDArrayIter", "label rows != data rows (MXNet: accepted)", lambda: None,
     lambda _: mx.io.NDArrayIter(np.ones((8, 5)), np.zeros(7), batch_size=4), ValueError,
     r"label 'softmax_label' has shape \(7,\): every data and label array needs 8 rows", None),
    ("io.NDArrayIter", "dict data of different lengths (MXNet: accepted)", lambda: None,
     lambda _: mx.io.NDArrayIter({"a": np.ones((8, 2)), "b": np.ones((6, 2))}, batch_size=2),
     ValueError, r"data 'b' has shape \(6, 2\)", None),
    ("io.NDArrayIter", "batch_size 0 (MXNet: accepted, then never advances)", lambda: None,
     lambda _: mx.io.NDArrayIter(np.ones((8, 5)), batch_size=0), ValueError,
     "batch_size must be positive, got 0", None),
    ("io.NDArrayIter", "batch_size -1 (MXNet: accepted)", lambda: None,
     lambda _: mx.io.NDArrayIter(np.ones((8, 5)), batch_size=-1), ValueError,
     "batch_size must be positive, got -1", None),
    ("io.NDArrayIter", "batch_size a str", lambda: None,
     lambda _: mx.io.NDArrayIter(np.ones((8, 5)), batch_size="4"), TypeError,
     "batch_size must be an int, got str", None),
    ("io.NDArrayIter", "data None", lambda: None, lambda _: mx.io.NDArrayIter(None),
     AssertionError, "data must not be None", None),
    ("io.NDArrayIter", "data a str", lambda: None, lambda _: mx.io.NDArrayIter("abc"),
     TypeError, "Input must be NDArray, numpy.ndarray", None),
    # -- mx.metric
    ("metric.create", "unknown name", lambda: None, lambda _: mx.metric.create("nosuchmetric"),
     AssertionError, "nosuchmetric is not registered", None),
    ("metric.create", "an int (MXNet: AssertionError)", lambda: None,
     lambda _: mx.metric.create(3), TypeError, "metric must be a str.*got int", None),
    ("metric.create", "top_k_accuracy with top_k=0", lambda: None,
     lambda _: mx.metric.create("top_k_accuracy", top_k=0), AssertionError,
     "Please use Accuracy if top_k is no more than 1", None),
    ("EvalMetric.update", "acc: 1 label array, 2 pred arrays", lambda: mx.metric.create("acc"),
     lambda m: m.update([mx.nd.zeros(4)], [mx.nd.zeros((4, 3))] * 2), ValueError,
     "Shape of labels 1 does not match shape of predictions 2", _metric_snap),
    ("EvalMetric.update", "acc: 4 labels, 5 predictions", lambda: mx.metric.create("acc"),
     lambda m: m.update([mx.nd.zeros(4)], [mx.nd.zeros((5, 3))]), ValueError,
     "Shape of labels 4 does not match shape of predictions 5", _metric_snap),
    ("EvalMetric.update", "ce: 4 labels, 5 prediction rows (MXNet: bare assert)",
     lambda: mx.metric.create("ce"), lambda m: m.update([mx.nd.zeros(4)], [mx.nd.zeros((5, 3))]),
     AssertionError, r"label has 4 entries but pred has 5 rows", _metric_snap),
    ("EvalMetric.update", "mse: 4 labels, 5 predictions", lambda: mx.metric.create("mse"),
     lambda m: m.update([mx.nd.zeros(4)], [mx.nd.zeros((5,))]), ValueError,
     r"could not be broadcast together with shapes \(4,1\) \(5,1\)", _metric_snap),
    # -- mx.init
    ("init.create", "unknown name", lambda: None, lambda _: mx.init.create("nosuchinit"),
     AssertionError, "nosuchinit is not registered", None),
    ("Initializer.__call__", "desc not a str", _X, lambda a: mx.init.Uniform()(3, a), TypeError,
     "name must be string", _arr_snap),
    ("Initializer.__call__", "name with no known suffix", _X,
     lambda a: mx.init.Uniform()(mx.init.InitDesc("foo_blah"), a), ValueError,
     "Unknown initialization pattern for foo_blah", _arr_snap),
    ("Xavier", "unknown rnd_type", _X,
     lambda a: mx.init.Xavier(rnd_type="foo")(mx.init.InitDesc("fc_weight"), a), ValueError,
     "Unknown random type", _arr_snap),
    ("Xavier", "unknown factor_type", _X,
     lambda a: mx.init.Xavier(factor_type="foo")(mx.init.InitDesc("fc_weight"), a), ValueError,
     "Incorrect factor type", _arr_snap),
    ("Xavier", "1-D weight", lambda: mx.nd.zeros((3,)),
     lambda a: mx.init.Xavier()(mx.init.InitDesc("fc_weight"), a), ValueError,
     "cannot be applied to vector fc_weight", _arr_snap),
    ("Mixed", "name matching no pattern", _X,
     lambda a: mx.init.Mixed(["bias"], [mx.init.Zero()])(mx.init.InitDesc("fc_weight"), a),
     ValueError, r"parameter name 'fc_weight' did not match any pattern \['bias'\]", _arr_snap),
    ("Mixed", "2 patterns, 1 initializer", lambda: None,
     lambda _: mx.init.Mixed(["bias", "w"], [mx.init.Zero()]), AssertionError,
     "2 patterns but 1 initializers", None),
    ("Constant", "value of another shape", _X,
     lambda a: mx.init.Constant(np.ones((2, 2)))(mx.init.InitDesc("fc_weight"), a), ValueError,
     r"could not be broadcast", _arr_snap),
    ("Bilinear", "2-D weight (MXNet: bare IndexError)", _X,
     lambda a: mx.init.Bilinear()(mx.init.InitDesc("up_weight"), a), IndexError,
     r"needs a 4-D shape .* for 'up_weight', got shape \(3, 4\)", _arr_snap),
    ("Orthogonal", "unknown rand_type (MXNet: UnboundLocalError)", _X,
     lambda a: mx.init.Orthogonal(rand_type="foo")(mx.init.InitDesc("fc_weight"), a),
     UnboundLocalError, "rand_type must be 'uniform' or 'normal', got 'foo'", _arr_snap),
    # -- mx.lr_scheduler
    ("FactorScheduler", "step 0", lambda: None,
     lambda _: mx.lr_scheduler.FactorScheduler(step=0), ValueError,
     "Schedule step must be greater or equal than 1 round", None),
    ("FactorScheduler", "factor 1.5", lambda: None,
     lambda _: mx.lr_scheduler.FactorScheduler(step=2, factor=1.5), ValueError,
     "Factor must be no more than 1", None),
    ("MultiFactorScheduler", "steps not increasing", lambda: None,
     lambda _: mx.lr_scheduler.MultiFactorScheduler(step=[5, 3]), ValueError,
     "Schedule step must be an increasing integer list", None),
    ("MultiFactorScheduler", "a step < 1", lambda: None,
     lambda _: mx.lr_scheduler.MultiFactorScheduler(step=[0, 3]), ValueError,
     "greater or equal than 1 round", None),
    ("PolyScheduler", "max_update 0", lambda: None,
     lambda _: mx.lr_scheduler.PolyScheduler(max_update=0), ValueError,
     "maximum number of updates must be strictly positive", None),
    ("CosineScheduler", "max_update 0", lambda: None,
     lambda _: mx.lr_scheduler.CosineScheduler(max_update=0), ValueError,
     "maximum number of updates must be strictly positive", None),
    ("LRScheduler", "unknown warmup_mode", lambda: None,
     lambda _: mx.lr_scheduler.FactorScheduler(step=2, warmup_mode="foo"), ValueError,
     "Supports only linear and constant modes of warmup", None),
    ("LRScheduler", "warmup_begin_lr > base_lr", lambda: None,
     lambda _: mx.lr_scheduler.FactorScheduler(step=2, base_lr=0.1, warmup_steps=2,
                                               warmup_begin_lr=0.5), ValueError,
     "Base lr has to be higher than warmup_begin_lr", None),
    ("LRScheduler", "warmup_steps -1", lambda: None,
     lambda _: mx.lr_scheduler.FactorScheduler(step=2, warmup_steps=-1), ValueError,
     "Warmup steps has to be positive or 0", None),
    # -- mx.nd
    ("nd.save", "a list holding an int (no file written)", lambda: None,
     lambda _: mx.nd.save("/tmp/mxopt-audit-never.params", [mx.nd.ones(2), 1]), TypeError,
     "got int at list index 1", _no_file("/tmp/mxopt-audit-never.params")),
    ("nd.save", "a dict value that is not an array", lambda: None,
     lambda _: mx.nd.save("/tmp/mxopt-audit-never.params", {"a": 1}), TypeError,
     "got int for key 'a'", _no_file("/tmp/mxopt-audit-never.params")),
    ("nd.save", "a dict key that is not a str", lambda: None,
     lambda _: mx.nd.save("/tmp/mxopt-audit-never.params", {1: mx.nd.ones(2)}), TypeError,
     "got a key of type int", _no_file("/tmp/mxopt-audit-never.params")),
    ("nd.load", "missing file (MXNet: MXNetError)", lambda: None,
     lambda _: mx.nd.load("/nonexistent-dir/x.params"), FileNotFoundError,
     "cannot open '/nonexistent-dir/x.params'", None),
    ("nd.array", "dtype 'foo'", lambda: None, lambda _: mx.nd.array([1, 2], dtype="foo"),
     TypeError, "array: dtype 'foo' is not a data type", None),
    ("nd.zeros", "dtype complex64 (MXNet: MXNetError)", lambda: None,
     lambda _: mx.nd.zeros((2,), dtype="complex64"), TypeError,
     "zeros: dtype complex64 is not supported", None),
]


@pytest.mark.parametrize("entry,tried,setup,action,exc,msg,snap", API_AUDIT,
                         ids=[f"{a}: {b}" for a, b, *_ in API_AUDIT])
def test_public_entry_points_raise_clearly_and_change_nothing(entry, tried, setup, action, exc,
                                                              msg, snap):
    obj = setup()
    before = snap(obj) if snap else None
    with pytest.raises(exc, match=msg):
        action(obj)
    if snap:
        assert snap(obj) == before, f"{entry}: state changed by the failed call"


def test_module_still_trains_after_every_rejected_call():
    mod = _mod("opt")
    for bad in (lambda: mod.forward(_batch(np.ones((4, 7)), np.zeros(4))),
                lambda: mod.forward(mx.io.DataBatch(data=[], label=[mx.nd.zeros(4)]))):
        with pytest.raises((ValueError, mx.base.MXNetError)):
            bad()
    before = _mod_snap(mod)[3]
    mod.forward(_batch(np.ones((4, 5)), np.zeros(4)))
    mod.backward()
    mod.update()
    assert _mod_snap(mod)[3] != before


def test_unknown_last_batch_handle_warns_and_behaves_like_discard_as_in_mxnet():
    data = np.arange(20, dtype=np.float32).reshape(10, 2)
    with pytest.warns(UserWarning, match="last_batch_handle should be .* got 'drop'"):
        it = mx.io.NDArrayIter(data, batch_size=4, last_batch_handle="drop")
    ref = mx.io.NDArrayIter(data, batch_size=4, last_batch_handle="discard")
    assert [b.data[0].asnumpy().tolist() for b in it] == \
        [b.data[0].asnumpy().tolist() for b in ref]
