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
