"""Differential tests of mx.kvstore (alias mx.kv) against MXNet 1.9.1: store types, init /
push / pull / pushpull / broadcast / row_sparse_pull values (bit for bit: the store's sums
and optimizer updates are element-wise), the optimizer on the store with int and str keys,
optimizer state files, and the errors of bad use."""
import pickle

import numpy as np
import pytest

from mxnet_oracle import require_mxnet

mxnet = require_mxnet()
import mxopt
from mxopt.base import MXNetError

LIBS = (mxnet, mxopt)


def outcome(fn, mx):
    """``('ok', result)`` or ``('error', exception class name)``."""
    try:
        return ("ok", fn(mx))
    except Exception as e:  # noqa: BLE001 - the class is what is compared
        name = type(e).__name__
        return ("error", "MXNetError" if name == "MXNetError" else name)


def same(fn):
    """Run ``fn`` with both libraries; the outcomes (values bit for bit) must agree."""
    a, b = outcome(fn, mxnet), outcome(fn, mxopt)
    assert a[0] == b[0], (a, b)
    if a[0] == "error":
        assert a[1] == b[1], (a, b)
    else:
        assert_same(a[1], b[1])
    return b


def assert_same(a, b):
    if isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), (a, b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
        np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))
    else:
        assert a == b, (a, b)


def rand(shape, seed, dtype=np.float32):
    return np.random.RandomState(seed).normal(size=shape).astype(dtype)


# ---- creation ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["local", "device", "horovod", "Local", "local_allreduce_device",
                                  "teststore"])
def test_create_types_rank_and_capabilities(name):
    def fn(mx):
        kv = mx.kv.create(name)
        return [kv.type, kv.rank, kv.num_workers, kv.is_capable("optimizer"),
                kv.is_capable("OPTIMIZER"), type(kv).__name__,
                isinstance(kv, mx.kvstore.KVStoreBase)]
    same(fn)
    assert mxopt.kvstore is mxopt.kv


def test_create_errors():
    same(lambda mx: mx.kv.create(3))
    same(lambda mx: mx.kv.create("nccl"))
    same(lambda mx: mx.kv.create("local").is_capable("sparse"))
    # MXNet needs a running parameter server for these; mxopt says what to use instead
    for name in ("dist", "dist_sync", "dist_device_sync", "dist_sync_device", "dist_async"):
        with pytest.raises(MXNetError, match=f"KVStore type '{name}' needs a distributed"):
            mxopt.kv.create(name)
    with pytest.raises(MXNetError, match="'nccl' needs NCCL"):
        mxopt.kv.create("nccl")


def test_registry_of_user_stores_and_backends():
    for mx in LIBS:
        @mx.kv.KVStoreBase.register
        class MyTestKVStoreClass(mx.kv.KVStoreBase):
            @property
            def type(self):
                return "mine"
        kv = mx.kv.create("mytestkvstoreclass")
        assert type(kv).__name__ == "MyTestKVStoreClass" and kv.type == "mine"
        with pytest.warns(UserWarning, match="is overriding existing kvstore"):
            mx.kv.KVStoreBase.register(MyTestKVStoreClass)
        del mx.kv.KVStoreBase.kv_registry["mytestkvstoreclass"]
    # a backend for a family of names (how a distributed store plugs in)
    made = []
    mxopt.kv.register_backend(lambda n: n.startswith("dist_"), lambda n: made.append(n) or n)
    try:
        assert mxopt.kv.create("DIST_SYNC") == "dist_sync" and made == ["dist_sync"]
        with pytest.raises(MXNetError):
            mxopt.kv.create("dist")
    finally:
        mxopt.kvstore.base._BACKENDS.pop()
    with pytest.raises(MXNetError):
        mxopt.kv.create("dist_sync")


def test_teststore_pushpull_and_broadcast():
    def fn(mx):
        kv = mx.kv.create("teststore")
        a, b = mx.nd.array(rand((2, 3), 1)), mx.nd.array(rand((2, 3), 2))
        out = mx.nd.zeros((2, 3))
        kv.pushpull(0, [a, b], out=out)
        kv.pushpull(0, [a, b])
        o2 = mx.nd.zeros((2, 3))
        kv.broadcast(0, a, out=[o2])
        return [out.asnumpy(), a.asnumpy(), b.asnumpy(), o2.asnumpy()]
    same(fn)


# ---- values -----------------------------------------------------------------------------------
@pytest.mark.parametrize("key", [3, "w"])
def test_init_push_pull_single_and_lists(key):
    def fn(mx):
        kv = mx.kv.create("local")
        kv.init(key, mx.nd.array(rand((4, 5), 0)))
        out = [mx.nd.zeros((4, 5)), mx.nd.zeros((4, 5))]
        kv.pull(key, out=out)
        res = [o.asnumpy() for o in out]
        kv.push(key, mx.nd.array(rand((4, 5), 1)))
        kv.pull(key, out=out[0])
        res.append(out[0].asnumpy())
        kv.push(key, [mx.nd.array(rand((4, 5), s)) for s in (2, 3, 4)])
        kv.pull(key, out=out)
        return res + [o.asnumpy() for o in out]
    same(fn)


def test_lists_of_keys_and_lists_of_lists():
    def fn(mx):
        kv = mx.kv.create("device")
        keys = ["a", "b", "c"]
        kv.init(keys, [mx.nd.array(rand((3,), i)) for i in range(3)])
        vals = [[mx.nd.array(rand((3,), 10 * i + j)) for j in range(2)] for i in range(3)]
        kv.push(keys, vals)
        outs = [[mx.nd.zeros((3,)) for _ in range(2)] for _ in range(3)]
        kv.pull(keys, out=outs)
        kv.push(["a", "a", "c"], [mx.nd.ones((3,)), mx.nd.ones((3,)) * 2, mx.nd.ones((3,))])
        o = [mx.nd.zeros((3,)), mx.nd.zeros((3,))]
        kv.pull(["a", "c"], out=o)
        return [x.asnumpy() for row in outs for x in row] + [x.asnumpy() for x in o]
    same(fn)


def test_push_of_one_array_is_referenced_not_copied():
    # MXNet's store refers to a pushed array (no copy): later writes to it are pulled
    def fn(mx):
        kv = mx.kv.create("local")
        a = mx.nd.ones((2, 3))
        kv.init(3, a)
        a[:] = 7  # init copies
        out = mx.nd.zeros((2, 3))
        kv.pull(3, out=out)
        res = [out.asnumpy()]
        g = mx.nd.ones((2, 3)) * 2
        kv.push(3, g)
        g[:] = 5
        kv.pull(3, out=out)
        res.append(out.asnumpy())
        gl = [mx.nd.ones((2, 3)), mx.nd.ones((2, 3)) * 3]
        kv.push(3, gl)
        gl[0][:] = 100  # a list is summed into the store's own buffer
        kv.pull(3, out=out)
        return res + [out.asnumpy()]
    same(fn)


SUM_CASES = [
    [1.0, 1e8, -1e8],
    [1e8, 1.0, -1e8, 3.0, 0.0, 1.0],
    [0.0, 1e8, 1.0, 1.0, 1.0, 1.0, -1e8],
    [1e8, 1, 1, 1, 1, 1, 1, 1, 1, -1e8],
]


@pytest.mark.parametrize("kvtype", ["local", "device"])
@pytest.mark.parametrize("case", range(len(SUM_CASES)))
def test_summation_order_is_mxnets(kvtype, case):
    # 'local' adds v0 + (v1 + v2 + v3 + v4) + ..., 'device' left to right: cancellation shows it
    values = SUM_CASES[case]

    def fn(mx):
        kv = mx.kv.create(kvtype)
        kv.init(0, mx.nd.zeros((1,)))
        kv.push(0, [mx.nd.array([v]) for v in values])
        out = mx.nd.zeros((1,))
        kv.pull(0, out=out)
        return out.asnumpy()
    same(fn)


@pytest.mark.parametrize("kvtype", ["local", "device"])
@pytest.mark.parametrize("n", [2, 3, 4, 5, 6, 9])
@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
def test_sums_of_n_values_bit_for_bit(kvtype, n, dtype):
    # a fresh store per n: MXNet sizes a key's buffers at its first multi-value push
    def fn(mx):
        kv = mx.kv.create(kvtype)
        kv.init("k", mx.nd.zeros((64,), dtype=dtype))
        kv.push("k", [mx.nd.array(rand((64,), s, dtype) * 10 ** (s % 4), dtype=dtype)
                      for s in range(n)])
        out = mx.nd.zeros((64,), dtype=dtype)
        kv.pull("k", out=out)
        return out.asnumpy()
    same(fn)


def test_pushpull_and_broadcast():
    def fn(mx):
        kv = mx.kv.create("local")
        kv.init(1, mx.nd.zeros((2, 2)))
        vals = [mx.nd.array(rand((2, 2), 1)), mx.nd.array(rand((2, 2), 2))]
        out = mx.nd.zeros((2, 2))
        kv.pushpull(1, vals, out=out)
        res = [out.asnumpy()]
        kv.pushpull(1, vals)  # into the values themselves
        res += [v.asnumpy() for v in vals]
        outs = [mx.nd.zeros((2, 2)), mx.nd.zeros((2, 2))]
        kv.broadcast(7, mx.nd.array(rand((2, 2), 3)), out=outs)
        return res + [o.asnumpy() for o in outs]
    same(fn)


def test_pull_casts_to_the_output_dtype():
    def fn(mx):
        kv = mx.kv.create("local")
        kv.init(1, mx.nd.array(rand((5,), 1)))
        out = mx.nd.zeros((5,), dtype="float64")
        kv.pull(1, out=out)
        kv.push(1, mx.nd.array(rand((5,), 2), dtype="float64"))
        out2 = mx.nd.zeros((5,))
        kv.pull(1, out=out2)
        return [out.asnumpy(), out2.asnumpy()]
    same(fn)


# ---- an optimizer on the store ----------------------------------------------------------------
OPTIMIZERS = [("sgd", {"learning_rate": 0.1, "momentum": 0.9, "wd": 1e-3}),
              ("adam", {"learning_rate": 0.01}),
              ("rmsprop", {"learning_rate": 0.01, "centered": True}),
              ("nag", {"learning_rate": 0.05, "momentum": 0.9}),
              ("ftrl", {"learning_rate": 0.1}),
              ("signum", {"learning_rate": 0.01, "momentum": 0.9})]


@pytest.mark.parametrize("kvtype", ["local", "device"])
@pytest.mark.parametrize("keys", [[0, 1], ["fc_weight", "fc_bias"]])
@pytest.mark.parametrize("name,kw", OPTIMIZERS)
def test_optimizer_on_the_store_bit_for_bit(kvtype, keys, name, kw):
    def fn(mx):
        kv = mx.kv.create(kvtype)
        shapes = [(4, 6), (4,)]
        kv.init(keys, [mx.nd.array(rand(s, 9 + i)) for i, s in enumerate(shapes)])
        kv.set_optimizer(mx.optimizer.create(name, rescale_grad=1.0 / 8, **kw))
        outs = [[mx.nd.zeros(s), mx.nd.zeros(s)] for s in shapes]
        res = []
        for step in range(4):
            grads = [[mx.nd.array(rand(s, 100 * step + 10 * i + d)) for d in range(2)]
                     for i, s in enumerate(shapes)]
            kv.pushpull(keys, grads, out=outs)
            res += [o.asnumpy() for row in outs for o in row]
        kv.push(keys[0], mx.nd.array(rand(shapes[0], 77)))  # one value
        kv.pull(keys[0], out=outs[0][0])
        return res + [outs[0][0].asnumpy()]
    same(fn)


def test_lamb_on_the_store_one_call_per_key():
    # LAMB is not element-wise (per-tensor norms): the store calls it key by key, as MXNet.
    # mxopt's one-tensor LAMB step itself differs from MXNet's by an ulp here and there, so
    # this compares to float32 rounding
    def fn(mx):
        kv = mx.kv.create("local")
        kv.init(["w", "b"], [mx.nd.array(rand((4, 6), 9)), mx.nd.array(rand((4,), 10))])
        kv.set_optimizer(mx.optimizer.create("lamb", learning_rate=0.01, rescale_grad=0.125))
        outs = [mx.nd.zeros((4, 6)), mx.nd.zeros((4,))]
        res = []
        for step in range(3):
            kv.pushpull(["w", "b"], [[mx.nd.array(rand((4, 6), step)), mx.nd.ones((4, 6))],
                                     mx.nd.array(rand((4,), step + 7))], out=outs)
            res += [o.asnumpy() for o in outs]
        return res
    for a, b in zip(fn(mxnet), fn(mxopt)):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)


def test_optimizer_states_are_keyed_by_the_store_keys():
    for mx in LIBS:
        kv = mx.kv.create("local")
        kv.init(["fc_weight", "fc_bias"], [mx.nd.ones((2, 2)), mx.nd.ones((2,))])
        kv.set_optimizer(mx.optimizer.SGD(momentum=0.9))
        kv.push(["fc_weight", "fc_bias"], [mx.nd.ones((2, 2)), mx.nd.ones((2,))])
        assert sorted(kv._updater.states) == ["fc_bias", "fc_weight"]
        kv = mx.kv.create("local")
        kv.init([3, 5], [mx.nd.ones((2, 2)), mx.nd.ones((2,))])
        kv.set_optimizer(mx.optimizer.SGD(momentum=0.9))
        kv.push([5, 3], [mx.nd.ones((2,)), mx.nd.ones((2, 2))])
        assert sorted(kv._updater.states) == [3, 5]


def test_custom_updater_gets_mxnets_arguments():
    # MXNet's C callback passes str keys as bytes; updater(key, pushed_sum, stored)
    def fn(mx):
        seen = []

        def update(key, recv, stored):
            seen.append((key, recv.asnumpy().tolist()))
            stored += recv * 2
        kv = mx.kv.create("local")
        kv.init(["b", "a"], [mx.nd.ones((2,)), mx.nd.ones((2,)) * 10])
        kv._set_updater(update)
        kv.push(["a", "b"], [mx.nd.ones((2,)), [mx.nd.ones((2,)), mx.nd.ones((2,)) * 3]])
        out = [mx.nd.zeros((2,)), mx.nd.zeros((2,))]
        kv.pull(["a", "b"], out=out)
        kv2 = mx.kv.create("device")
        kv2.init(4, mx.nd.zeros((1,)))
        kv2._set_updater(update)
        kv2.push(4, mx.nd.ones((1,)))
        return [seen, [o.asnumpy() for o in out]]
    same(fn)


def test_optimizer_states_round_trip_and_resume(tmp_path):
    def run(mx, steps, start=None, save=None, dump=False):
        kv = mx.kv.create("local")
        w = mx.nd.array(rand((3, 4), 5))
        kv.init("w", w if start is None else mx.nd.array(start))
        kv.set_optimizer(mx.optimizer.Adam(learning_rate=0.01))
        if save and save[0] == "load":
            kv.load_optimizer_states(save[1])
        out = mx.nd.zeros((3, 4))
        for s in steps:
            kv.pushpull("w", [mx.nd.array(rand((3, 4), s)), mx.nd.array(rand((3, 4), s + 50))],
                        out=out)
        if save and save[0] == "save":
            kv.save_optimizer_states(save[1], dump_optimizer=dump)
        return out.asnumpy()

    for dump in (False, True):
        half = run(mxopt, range(3), save=("save", str(tmp_path / "s")), dump=dump)
        blob = pickle.loads(open(tmp_path / "s", "rb").read())
        assert isinstance(blob, tuple if dump else dict)
        resumed = run(mxopt, range(3, 6), start=half, save=("load", str(tmp_path / "s")))
        # without the optimizer the update counts restart (Adam's bias correction): as MXNet
        run(mxnet, range(3), save=("save", str(tmp_path / "m")), dump=dump)
        resumed_mx = run(mxnet, range(3, 6), start=half, save=("load", str(tmp_path / "m")))
        assert_same(resumed_mx, resumed)
        if dump:  # with it, resuming equals the uninterrupted run
            assert_same(run(mxopt, range(6)), resumed)
        if not dump:  # MXNet's state file resumes an mxopt store identically (a file with
            # a pickled MXNet optimizer would hand mxopt's Updater MXNet's optimizer object)
            resumed = run(mxopt, range(3, 6), start=half, save=("load", str(tmp_path / "m")))
            assert_same(resumed_mx, resumed)


# ---- row_sparse -------------------------------------------------------------------------------
def test_row_sparse_pull_values():
    def fn(mx):
        kv = mx.kv.create("local")
        w = mx.nd.array(np.arange(24, dtype=np.float32).reshape(6, 4))
        kv.init("r", w.tostype("row_sparse"))
        res = []
        for ids in ([2, 0, 2], [5], [0, 1, 2, 3, 4, 5], [[3, 1], [1, 4]]):
            out = mx.nd.sparse.zeros("row_sparse", (6, 4))
            kv.row_sparse_pull("r", out=out, row_ids=mx.nd.array(ids, dtype="int64"))
            res += [out.asnumpy(), out.indices.asnumpy().astype(np.int64), out.data.asnumpy()]
        o1 = mx.nd.sparse.zeros("row_sparse", (6, 4))
        o2 = mx.nd.sparse.zeros("row_sparse", (6, 4))
        kv.row_sparse_pull("r", out=[o1, o2], row_ids=mx.nd.array([4, 1]))
        res += [o1.asnumpy(), o2.asnumpy()]
        kv.row_sparse_pull("r", out=[o1, o2], row_ids=[mx.nd.array([0]), mx.nd.array([5])])
        res += [o1.asnumpy(), o2.asnumpy()]
        # a sparse push replaces the value; rows it lacks come back as zeros
        g = mx.nd.sparse.row_sparse_array((np.ones((1, 4), np.float32), [1]), shape=(6, 4))
        kv.push("r", [g, g])
        kv.row_sparse_pull("r", out=o1, row_ids=mx.nd.array([0, 1, 3]))
        res += [o1.asnumpy(), o1.indices.asnumpy().astype(np.int64)]
        dense = mx.nd.zeros((6, 4))
        kv.pull("r", out=dense)  # a dense output of a sparse value
        return res + [dense.asnumpy()]
    same(fn)


def test_row_sparse_weights_with_an_optimizer():
    def fn(mx):
        kv = mx.kv.create("local")
        w = mx.nd.array(rand((5, 3), 1) + 3)  # every row present
        kv.init("r", w.tostype("row_sparse"))
        kv.init("d", w)
        kv.set_optimizer(mx.optimizer.SGD(learning_rate=0.5, momentum=0.9))
        g = mx.nd.sparse.row_sparse_array((rand((2, 3), 2), [1, 3]), shape=(5, 3))
        res = []
        for _ in range(2):
            kv.push(["r", "d"], [g, g])
            out = mx.nd.sparse.zeros("row_sparse", (5, 3))
            kv.row_sparse_pull("r", out=out, row_ids=mx.nd.arange(0, 5, dtype="int64"))
            d = mx.nd.zeros((5, 3))
            kv.pull("d", out=d)
            res += [out.asnumpy(), d.asnumpy()]
        return res
    same(fn)


def test_row_sparse_pull_errors_name_the_key():
    def setup(mx):
        kv = mx.kv.create("local")
        kv.init("d", mx.nd.ones((4, 3)))
        kv.init("r", mx.nd.ones((4, 3)).tostype("row_sparse"))
        return kv

    def rsp(mx):
        return mx.nd.sparse.zeros("row_sparse", (4, 3))
    same(lambda mx: setup(mx).row_sparse_pull("zz", out=rsp(mx), row_ids=mx.nd.array([1])))
    same(lambda mx: setup(mx).row_sparse_pull("d", out=rsp(mx), row_ids=mx.nd.array([1])))
    same(lambda mx: setup(mx).row_sparse_pull("r", out=mx.nd.zeros((4, 3)),
                                              row_ids=mx.nd.array([1])))
    same(lambda mx: setup(mx).row_sparse_pull("r", out=rsp(mx)))
    same(lambda mx: setup(mx).row_sparse_pull("r", out=rsp(mx), row_ids=[1]))
    same(lambda mx: setup(mx).row_sparse_pull("r", out=[rsp(mx), rsp(mx)],
                                              row_ids=[mx.nd.array([1])] * 3))
    kv = setup(mxopt)
    with pytest.raises(MXNetError, match="key zz doesn't exist"):
        kv.row_sparse_pull("zz", out=rsp(mxopt), row_ids=mxopt.nd.array([1]))
    with pytest.raises(MXNetError, match="key d: the stored value is dense"):
        kv.row_sparse_pull("d", out=rsp(mxopt), row_ids=mxopt.nd.array([1]))
    # MXNet returns an index it has no row for; mxopt refuses
    with pytest.raises(MXNetError, match="row id 7 is out of range for 4 rows"):
        kv.row_sparse_pull("r", out=rsp(mxopt), row_ids=mxopt.nd.array([7]))
    with pytest.raises(MXNetError, match="row id -1 is out of range"):
        kv.row_sparse_pull("r", out=rsp(mxopt), row_ids=mxopt.nd.array([-1]))
    kv.set_optimizer(mxopt.optimizer.SGD())
    kv.init("partial", mxopt.nd.sparse.row_sparse_array((np.ones((1, 3), np.float32), [1]),
                                                         shape=(4, 3)))
    with pytest.raises(MXNetError, match="key partial with an optimizer: .* all rows"):
        kv.push("partial", mxopt.nd.ones((4, 3)))


# ---- errors -----------------------------------------------------------------------------------
ERROR_CASES = {
    "pull un-inited int key": lambda mx: mx.kv.create("local").pull(3, out=mx.nd.zeros((2,))),
    "pull un-inited str key": lambda mx: mx.kv.create("local").pull("a", out=mx.nd.zeros((2,))),
    "push un-inited str key": lambda mx: mx.kv.create("local").push("a", mx.nd.zeros((2,))),
    "push un-inited int key": lambda mx: mx.kv.create("local").push(3, mx.nd.zeros((2,))),
    "init twice int": lambda mx: _twice(mx, 1),
    "init twice str": lambda mx: _twice(mx, "x"),
    "broadcast twice": lambda mx: _broadcast_twice(mx),
    "mixed key types": lambda mx: _mixed(mx),
    "pull shape mismatch": lambda mx: _store(mx).pull(1, out=mx.nd.zeros((3,))),
    "push list of different shapes": lambda mx: _store(mx).push(
        1, [mx.nd.ones((2,)), mx.nd.ones((3,))]),
    "pull without out": lambda mx: _store(mx).pull(1),
    "keys and values of different lengths": lambda mx: _store(mx).push([1, 1], [mx.nd.ones((2,))]),
    "float key": lambda mx: _store(mx).push(1.5, mx.nd.ones((2,))),
    "inconsistent key types": lambda mx: _store(mx).push([1, "a"], [mx.nd.ones((2,))] * 2),
    "numpy value": lambda mx: _store(mx).push(1, np.ones(2, np.float32)),
    "unknown capability": lambda mx: _store(mx).is_capable("foo"),
    "compression on local": lambda mx: mx.kv.create("local").set_gradient_compression(
        {"type": "2bit"}),
    "compression on horovod": lambda mx: mx.kv.create("horovod").set_gradient_compression(
        {"type": "2bit"}),
    "compression type none": lambda mx: mx.kv.create("device").set_gradient_compression(
        {"type": "none"}),
    "compression without type": lambda mx: mx.kv.create("device").set_gradient_compression(
        {"threshold": 0.5}),
    "compression not a dict": lambda mx: mx.kv.create("device").set_gradient_compression("2bit"),
    "save states without optimizer": lambda mx: _store(mx).save_optimizer_states("/nonexistent"),
    "load states without optimizer": lambda mx: _store(mx).load_optimizer_states("/nonexistent"),
}


def _store(mx):
    kv = mx.kv.create("local")
    kv.init(1, mx.nd.ones((2,)))
    return kv


def _twice(mx, key):
    kv = mx.kv.create("local")
    kv.init(key, mx.nd.ones((2,)))
    kv.init(key, mx.nd.ones((2,)))


def _broadcast_twice(mx):
    kv = mx.kv.create("local")
    kv.broadcast("k", mx.nd.ones((2,)), out=mx.nd.zeros((2,)))
    kv.broadcast("k", mx.nd.ones((2,)), out=mx.nd.zeros((2,)))


def _mixed(mx):
    kv = mx.kv.create("local")
    kv.init(1, mx.nd.ones((2,)))
    kv.init("s", mx.nd.ones((2,)))


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_errors_have_mxnets_types(case):
    res = same(ERROR_CASES[case])
    assert res[0] == "error"


def test_error_messages_name_the_key_and_shapes():
    kv = mxopt.kv.create("local")
    with pytest.raises(MXNetError, match="key 3 has not been inited"):
        kv.pull(3, out=mxopt.nd.zeros((2,)))
    kv = mxopt.kv.create("local")
    with pytest.raises(MXNetError, match="key w doesn't exist. Did you init"):
        kv.push("w", mxopt.nd.zeros((2,)))
    kv.init("w", mxopt.nd.zeros((2,)))
    with pytest.raises(MXNetError, match="duplicate init of key w"):
        kv.init("w", mxopt.nd.zeros((2,)))
    with pytest.raises(MXNetError, match=r"key w has shape \(2,\), out \(3,\)"):
        kv.pull("w", out=mxopt.nd.zeros((3,)))
    with pytest.raises(MXNetError, match="Mixed key types"):
        kv.init(0, mxopt.nd.zeros((2,)))
    with pytest.raises(AssertionError, match="values of key 'w' must be NDArrays"):
        kv.push("w", [np.zeros(2)])
    with pytest.raises(MXNetError, match="2bit gradient compression is not implemented"):
        mxopt.kv.create("device").set_gradient_compression({"type": "2bit"})
    with pytest.raises(MXNetError, match="threshold must be greater than 0"):
        mxopt.kv.create("device").set_gradient_compression({"type": "2bit", "threshold": 0})


def test_a_bad_push_changes_nothing():
    # MXNet would replace the value with a (3,)-shaped one and fail later at pull; mxopt
    # checks every key of a call before changing any
    kv = mxopt.kv.create("local")
    kv.init(["a", "b"], [mxopt.nd.ones((2,)), mxopt.nd.ones((2,))])
    with pytest.raises(MXNetError,
                       match=r"push of key b: operands shape mismatch: .*\(2,\).*\(3,\)"):
        kv.push(["a", "b"], [mxopt.nd.ones((2,)) * 5, mxopt.nd.ones((3,))])
    out = mxopt.nd.zeros((2,))
    kv.pull("a", out=out)
    np.testing.assert_array_equal(out.asnumpy(), [1, 1])
    kv.set_optimizer(mxopt.optimizer.SGD(learning_rate=1.0))
    with pytest.raises(MXNetError, match="key c doesn't exist"):
        kv.pushpull(["a", "c"], [mxopt.nd.ones((2,)), mxopt.nd.ones((2,))], out=[out, out])
    kv.pull("a", out=out)
    np.testing.assert_array_equal(out.asnumpy(), [1, 1])
    assert kv._updater.states == {}


def test_updater_errors_propagate():
    # MXNet's C callback prints the exception and leaves the value unchanged; mxopt raises
    kv = mxopt.kv.create("local")
    kv.init(1, mxopt.nd.ones((2,)))

    def boom(key, recv, stored):
        raise KeyError("from the updater")
    kv._set_updater(boom)
    with pytest.raises(KeyError, match="from the updater"):
        kv.push(1, mxopt.nd.ones((2,)))


def test_barrier_and_gradient_compression_on_device_types():
    for mx in LIBS:
        kv = mx.kv.create("device")
        kv._barrier()
        assert kv.rank == 0 and kv.num_workers == 1
