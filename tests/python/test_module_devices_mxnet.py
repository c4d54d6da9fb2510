"""Differential tests of multi-context Module and Module's key-value store handling against
MXNet 1.9.1 with the same contexts (mx.cpu(0), mx.cpu(1), ...) and work load lists:
parameters after training, outputs, metrics, the store / update_on_kvstore rules, optimizer
indices and states, checkpoints and optimizer state files, SequentialModule and
PythonLossModule."""
import logging
import os
import warnings

import numpy as np
import pytest

from mxnet_oracle import require_mxnet

mxnet = require_mxnet()
import mxopt

RTOL, ATOL = 1e-5, 2e-6


def mlp(mx):
    h = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=16, name="fc1")
    h = mx.sym.Activation(h, act_type="relu", name="relu1")
    h = mx.sym.FullyConnected(h, num_hidden=5, name="fc2")
    return mx.sym.SoftmaxOutput(h, name="softmax")


def linreg(mx):
    fc = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=2, name="fc")
    return mx.sym.LinearRegressionOutput(fc, name="lro")


def data(n=120, d=12, k=5, seed=0):
    rng = np.random.RandomState(seed)
    return rng.normal(size=(n, d)).astype(np.float32), rng.randint(0, k, n).astype(np.float32)


def init_params(seed=1, d=12):
    rng = np.random.RandomState(seed)
    return {"fc1_weight": rng.uniform(-.5, .5, (16, d)), "fc1_bias": rng.uniform(-.5, .5, 16),
            "fc2_weight": rng.uniform(-.5, .5, (5, 16)), "fc2_bias": rng.uniform(-.5, .5, 5)}


def contexts(mx, n):
    return [mx.cpu(i) for i in range(n)]


def train(mx, ndev=2, kvstore="local", work_load_list=None, optimizer="sgd",
          opt_params=(("learning_rate", 0.1), ("momentum", 0.9), ("wd", 1e-3)), epochs=2,
          batch=20, steps=None):
    """Bind, init, init_optimizer and train by hand; returns the module and its results."""
    x, y = data()
    it = mx.io.NDArrayIter(x, y, batch)
    mod = mx.mod.Module(mlp(mx), context=contexts(mx, ndev), work_load_list=work_load_list)
    mod.bind(it.provide_data, it.provide_label)
    mod.init_params(arg_params={k: mx.nd.array(v) for k, v in init_params().items()})
    kv = mx.kv.create(kvstore[4:]) if isinstance(kvstore, str) and kvstore.startswith("obj:") \
        else kvstore
    mod.init_optimizer(kvstore=kv, optimizer=optimizer, optimizer_params=opt_params)
    metric = mx.metric.create(["acc", "ce"])
    outs = []
    n = 0
    for _ in range(epochs):
        it.reset()
        for b in it:
            if steps is not None and n == steps:
                break
            mod.forward_backward(b)
            mod.update()
            mod.update_metric(metric, b.label)
            outs.append(mod.get_outputs()[0].asnumpy())
            n += 1
    arg, _ = mod.get_params()
    return mod, {"params": {k: v.asnumpy() for k, v in arg.items()}, "metric": metric.get(),
                 "outputs": outs}


def results_close(a, b, rtol=RTOL, atol=ATOL):
    assert sorted(a["params"]) == sorted(b["params"])
    for k in a["params"]:
        np.testing.assert_allclose(b["params"][k], a["params"][k], rtol=rtol, atol=atol, err_msg=k)
    assert a["metric"][0] == b["metric"][0]
    np.testing.assert_allclose(b["metric"][1], a["metric"][1], rtol=1e-5)
    for oa, ob in zip(a["outputs"], b["outputs"]):
        np.testing.assert_allclose(ob, oa, rtol=rtol, atol=atol)


def store_facts(mod):
    opt = mod._optimizer
    updater = mod._updater if mod._updater is not None else mod._kvstore._updater
    return {"update_on_kvstore": bool(mod._update_on_kvstore),
            "kv": None if mod._kvstore is None else mod._kvstore.type,
            "idx2name": sorted(opt.idx2name.items()),
            "counts": {d: sorted(c.items(), key=str) for d, c in
                       opt._all_index_update_counts.items()},
            "num_update": opt.num_update, "rescale_grad": opt.rescale_grad,
            "state_keys": sorted(updater.states, key=str)}


@pytest.fixture
def env(monkeypatch):
    def set_env(value):
        if value is None:
            monkeypatch.delenv("MXNET_UPDATE_ON_KVSTORE", raising=False)
        else:
            monkeypatch.setenv("MXNET_UPDATE_ON_KVSTORE", value)
    return set_env


CASES = [  # (contexts, kvstore, work_load_list, MXNET_UPDATE_ON_KVSTORE)
    (2, "local", None, None), (2, "device", None, None), (2, None, None, None),
    (2, "obj:local", None, None), (2, "local", None, "0"), (2, "device", [1, 3], None),
    (2, "device", [2, 1], "0"), (3, "local", [1, 1, 2], None), (3, "device", None, "0"),
    (1, "obj:device", None, None), (1, "local", None, None), (2, "horovod", None, None),
]


@pytest.mark.parametrize("ndev,kvstore,wl,update_env", CASES)
def test_training_on_several_contexts_matches_mxnet(ndev, kvstore, wl, update_env, env):
    env(update_env)
    mods, res = zip(*(train(mx, ndev, kvstore, wl) for mx in (mxnet, mxopt)))
    results_close(*res)
    assert store_facts(mods[0]) == store_facts(mods[1])


@pytest.mark.parametrize("kvstore,update_env", [("local", None), ("device", "0"), (None, None)])
def test_adam_on_three_contexts(kvstore, update_env, env):
    env(update_env)
    mods, res = zip(*(train(mx, 3, kvstore, [3, 1, 2], optimizer="adam",
                            opt_params=(("learning_rate", 0.01), ("wd", 1e-4)))
                      for mx in (mxnet, mxopt)))
    results_close(*res)
    assert store_facts(mods[0]) == store_facts(mods[1])


def test_exact_arithmetic_gives_identical_bits(env):
    # small dyadic numbers: every product and sum is exact in float32, so the only source of
    # difference would be the store's and the optimizer's arithmetic order
    x = np.array([[1, 2, -1, 0], [0, 1, 1, 2], [2, 0, 1, -1], [1, 1, 0, 1]] * 2, np.float32)
    y = np.array([[1, 0], [0, 2], [1, 1], [2, 1]] * 2, np.float32)
    for kvstore, update_env in (("local", None), ("device", "0"), ("obj:local", None)):
        env(update_env)
        got = []
        for mx in (mxnet, mxopt):
            it = mx.io.NDArrayIter(x, y, 8, label_name="lro_label")
            mod = mx.mod.Module(linreg(mx), label_names=("lro_label",), context=contexts(mx, 2))
            mod.bind(it.provide_data, it.provide_label)
            mod.init_params(arg_params={"fc_weight": mx.nd.array(np.full((2, 4), 0.25)),
                                        "fc_bias": mx.nd.zeros((2,))})
            kv = mx.kv.create(kvstore[4:]) if kvstore.startswith("obj:") else kvstore
            mod.init_optimizer(kvstore=kv, optimizer="sgd",
                               optimizer_params=(("learning_rate", 0.5),))
            for _ in range(2):
                it.reset()
                for b in it:
                    mod.forward_backward(b)
                    mod.update()
            got.append({k: v.asnumpy() for k, v in mod.get_params()[0].items()})
        for k in got[0]:
            np.testing.assert_array_equal(got[1][k].view(np.uint32), got[0][k].view(np.uint32))


def test_get_params_averages_the_copies_as_mxnet_does():
    # (0 + w0 + w1 + w2) / 3 in float32: not always w when the copies are equal
    vals = np.random.RandomState(3).normal(size=(3, 16, 12)).astype(np.float32)
    vals[1] = vals[0] * np.float32(1.1)
    vals[:, 0, :] = -0.0  # 0 + (-0) is +0
    got = []
    for mx, ndev in ((mxnet, 3), (mxopt, 3), (mxnet, 1), (mxopt, 1)):
        mod = mx.mod.Module(mlp(mx), context=contexts(mx, ndev))
        mod.bind([("data", (6, 12))], [("softmax_label", (6,))])
        mod.init_params(arg_params={k: mx.nd.array(v) for k, v in init_params().items()})
        for k in range(ndev):
            mod._exec_group.param_arrays[0][k][:] = mx.nd.array(vals[k])
            mod._exec_group.param_arrays[1][k][:] = mx.nd.array(np.full(16, 0.1, np.float32))
        mod._params_dirty = True
        got.append({k: v.asnumpy() for k, v in mod.get_params()[0].items()})
    for a, b in (got[:2], got[2:]):
        for k in a:
            np.testing.assert_array_equal(b[k].view(np.uint32), a[k].view(np.uint32))
    assert not np.signbit(got[3]["fc1_weight"][0]).any()


def test_outputs_input_grads_and_slices_match():
    x, y = data(30)
    res = []
    for mx in (mxnet, mxopt):
        mod = mx.mod.Module(mlp(mx), context=contexts(mx, 3), work_load_list=[1, 2, 2])
        mod.bind([("data", (10, 12))], [("softmax_label", (10,))], inputs_need_grad=True)
        mod.init_params(arg_params={k: mx.nd.array(v) for k, v in init_params().items()})
        batch = mx.io.DataBatch([mx.nd.array(x[:10])], [mx.nd.array(y[:10])])
        mod.forward_backward(batch)
        per_dev = mod.get_outputs(merge_multi_context=False)
        ig = mod.get_input_grads()
        ig_dev = mod.get_input_grads(merge_multi_context=False)
        mod.forward(mx.io.DataBatch([mx.nd.array(x[10:16])], [mx.nd.array(y[10:16])]),
                    is_train=False)  # a smaller batch reshapes every context
        small = mod.get_outputs()[0].asnumpy()
        res.append([mod.output_shapes, [o.shape for o in per_dev[0]],
                    [(s.start, s.stop) for s in mod._exec_group.slices],
                    ig[0].asnumpy(), [g.shape for g in ig_dev[0]], small, mod.data_shapes])
    a, b = res
    assert a[0] == b[0] and a[1] == b[1] and a[2] == b[2] and a[4] == b[4]
    np.testing.assert_allclose(b[3], a[3], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(b[5], a[5], rtol=RTOL, atol=ATOL)
    assert [tuple(d) for d in a[6]] == [tuple(d) for d in b[6]]


def test_pre_sliced_list_of_batches():
    x, y = data(20)
    got = []
    for mx in (mxnet, mxopt):
        mod = mx.mod.Module(mlp(mx), context=contexts(mx, 2))
        mod.bind([("data", (10, 12))], [("softmax_label", (10,))])
        mod.init_params(arg_params={k: mx.nd.array(v) for k, v in init_params().items()})
        mod.init_optimizer(kvstore="device", optimizer_params=(("learning_rate", 0.1),))
        batches = [mx.io.DataBatch([mx.nd.array(x[i:i + 5])], [mx.nd.array(y[i:i + 5])])
                   for i in (0, 5)]
        mod.forward_backward(batches)
        mod.update()
        metric = mx.metric.create("ce")
        mod.update_metric(metric, [b.label for b in batches], pre_sliced=True)
        got.append((metric.get()[1], {k: v.asnumpy() for k, v in mod.get_params()[0].items()}))
    np.testing.assert_allclose(got[1][0], got[0][0], rtol=1e-6)
    for k in got[0][1]:
        np.testing.assert_allclose(got[1][1][k], got[0][1][k], rtol=RTOL, atol=ATOL)


def test_create_kvstore_rules_match():
    big = {"w": None}
    for mx in (mxnet, mxopt):
        big["w"] = mx.nd.zeros((4097, 4096))  # 16M + 4096 elements
        small = {"w": mx.nd.zeros((3, 3))}
        kv_obj = mx.kv.create("device")
        facts = []
        for args in (("local", 1, small), ("local", 2, small), ("device", 2, small),
                     ("local", 2, big), ("device", 2, big), (None, 2, small),
                     (kv_obj, 1, small), ("teststore", 2, small), ("horovod", 1, small)):
            kv, uok = mx.model._create_kvstore(*args)
            facts.append((None if kv is None else kv.type, uok, kv is kv_obj))
        os.environ["MXNET_UPDATE_ON_KVSTORE"] = "0"
        try:
            kv, uok = mx.model._create_kvstore("device", 2, small)
            facts.append((kv.type, uok))
        finally:
            del os.environ["MXNET_UPDATE_ON_KVSTORE"]
        with pytest.raises(TypeError, match="kvstore must be KVStore, str or None"):
            mx.model._create_kvstore(3, 2, small)
        if mx is mxnet:
            expected = facts
        else:
            assert facts == expected


def _fake_dist_store(mx, type_name):
    """A registered store claiming to be a 2-worker synchronous distributed store."""
    class FakeDist(mx.kv.KVStoreBase):
        def init(self, key, value):
            pass

        def broadcast(self, key, value, out, priority=0):
            for o in (out if isinstance(out, list) else [out]):
                o[:] = value

        def pushpull(self, key, value, out=None, priority=0):
            total = sum(value)
            for o in (value if out is None else out):
                o[:] = total

        def is_capable(self, capability):
            return False

        @property
        def type(self):
            return type_name

        @property
        def num_workers(self):
            return 2

        @property
        def rank(self):
            return 0
    return FakeDist()


@pytest.mark.parametrize("type_name,workers", [("dist_sync", 2), ("dist_device_sync", 2),
                                               ("dist", 1), ("dist_async", 1)])
def test_rescale_grad_divides_by_workers_only_for_dist_sync_types(type_name, workers):
    for mx in (mxnet, mxopt):
        mod = mx.mod.Module(mlp(mx), context=contexts(mx, 2))
        mod.bind([("data", (8, 12))], [("softmax_label", (8,))])
        mod.init_params()
        mod.init_optimizer(kvstore=_fake_dist_store(mx, type_name))
        assert mod._optimizer.rescale_grad == 1.0 / (8 * workers)
        assert mod._update_on_kvstore is False


def test_fit_with_a_kvstore_object_logs_and_trains_like_mxnet(caplog):
    x, y = data(100)
    logs, params = [], []
    for mx in (mxnet, mxopt):
        caplog.clear()
        it = mx.io.NDArrayIter(x, y, 20, shuffle=False)
        mod = mx.mod.Module(mlp(mx), context=contexts(mx, 2), work_load_list=[3, 1])
        kv = mx.kvstore.create("device")
        with caplog.at_level(logging.INFO), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mod.fit(it, num_epoch=3, kvstore=kv, optimizer="sgd",
                    optimizer_params={"learning_rate": 0.2, "momentum": 0.5},
                    arg_params={k: mx.nd.array(v) for k, v in init_params().items()},
                    eval_data=mx.io.NDArrayIter(x[:40], y[:40], 20), eval_metric="acc",
                    batch_end_callback=mx.callback.Speedometer(20, 2, auto_reset=False))
        logs.append([r.getMessage() for r in caplog.records if "Time cost" not in r.getMessage()
                     and "Speed" not in r.getMessage()])
        params.append({k: v.asnumpy() for k, v in mod.get_params()[0].items()})
        assert mod._kvstore is kv and mod._update_on_kvstore
    assert logs[0] == logs[1]
    for k in params[0]:
        np.testing.assert_allclose(params[1][k], params[0][k], rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("update_env", [None, "0"])
def test_optimizer_states_and_checkpoints_resume_exactly(tmp_path, update_env, env):
    env(update_env)
    x, y = data(80)
    opt_params = (("learning_rate", 0.1), ("momentum", 0.9))

    def fit(mx, epochs, prefix=None, begin=0, load=None):
        it = mx.io.NDArrayIter(x, y, 20)
        if load is None:
            mod = mx.mod.Module(mlp(mx), context=contexts(mx, 2))
            kw = dict(arg_params={k: mx.nd.array(v) for k, v in init_params().items()})
        else:
            mod = mx.mod.Module.load(load, begin, load_optimizer_states=True,
                                     context=contexts(mx, 2))
            kw = {}
        cb = mx.callback.module_checkpoint(mod, prefix, save_optimizer_states=True) \
            if prefix else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mod.fit(it, num_epoch=epochs, begin_epoch=begin, kvstore="local",
                    optimizer_params=opt_params, epoch_end_callback=cb, **kw)
        return {k: v.asnumpy() for k, v in mod.get_params()[0].items()}

    full = fit(mxopt, 4)
    fit(mxopt, 2, prefix=str(tmp_path / "o"))
    resumed = fit(mxopt, 4, begin=2, load=str(tmp_path / "o"))
    for k in full:
        np.testing.assert_array_equal(resumed[k], full[k])
    # MXNet's checkpoint and states resume mxopt; mxopt's parameters load in MXNet
    fit(mxnet, 2, prefix=str(tmp_path / "m"))
    from_mx = fit(mxopt, 4, begin=2, load=str(tmp_path / "m"))
    mx_full = fit(mxnet, 4)
    for k in full:
        np.testing.assert_allclose(from_mx[k], mx_full[k], rtol=RTOL, atol=ATOL)
    sym, arg, aux = mxnet.model.load_checkpoint(str(tmp_path / "o"), 2)
    assert sorted(arg) == sorted(full) and aux == {}


def test_borrow_optimizer_and_shared_module_on_two_contexts():
    x, y = data(40)
    got = []
    for mx in (mxnet, mxopt):
        a = mx.mod.Module(mlp(mx), context=contexts(mx, 2))
        a.bind([("data", (20, 12))], [("softmax_label", (20,))])
        a.init_params(arg_params={k: mx.nd.array(v) for k, v in init_params().items()})
        a.init_optimizer(kvstore="device", optimizer_params=(("learning_rate", 0.1),))
        b = mx.mod.Module(mlp(mx), context=contexts(mx, 2))
        b.bind([("data", (10, 12))], [("softmax_label", (10,))], shared_module=a)
        assert b.optimizer_initialized and b._kvstore is a._kvstore
        for mod, lo, hi in ((a, 0, 20), (b, 20, 30), (a, 20, 40)):
            mod.forward_backward(mx.io.DataBatch([mx.nd.array(x[lo:hi])],
                                                 [mx.nd.array(y[lo:hi])]))
            mod.update()
        got.append({k: v.asnumpy() for k, v in a.get_params()[0].items()})
    for k in got[0]:
        np.testing.assert_allclose(got[1][k], got[0][k], rtol=RTOL, atol=ATOL)


def test_monitor_on_two_contexts(caplog):
    x, y = data(20)
    lines = []
    for mx in (mxnet, mxopt):
        mod = mx.mod.Module(mlp(mx), context=contexts(mx, 2))
        mod.bind([("data", (10, 12))], [("softmax_label", (10,))])
        mod.init_params(arg_params={k: mx.nd.array(v) for k, v in init_params().items()})
        mon = mx.mon.Monitor(1, pattern=".*weight")
        mod.install_monitor(mon)
        caplog.clear()
        with caplog.at_level(logging.INFO):
            mon.tic()
            mod.forward(mx.io.DataBatch([mx.nd.array(x[:10])], [mx.nd.array(y[:10])]))
            mon.toc_print()
        lines.append(sorted(r.getMessage().split()[2] for r in caplog.records))
    assert lines[0] == lines[1] and lines[0].count("fc1_weight") == 2


def test_too_many_slices_and_bad_work_loads():
    for mx in (mxnet, mxopt):
        mod = mx.mod.Module(mlp(mx), context=contexts(mx, 3), work_load_list=[1, 1, 10])
        with pytest.raises(ValueError, match="Too many slices. Some splits are empty."):
            mod.bind([("data", (4, 12))], [("softmax_label", (4,))])
        assert not mod.binded
        with pytest.raises(AssertionError):
            mx.mod.Module(mlp(mx), context=contexts(mx, 2), work_load_list=[1, 2, 3])


def test_save_optimizer_states_goes_through_the_store(tmp_path, env):
    for update_env, via_store in ((None, True), ("0", False)):
        env(update_env)
        mod, _ = train(mxopt, 2, "local", epochs=1)
        mod.save_optimizer_states(str(tmp_path / "s"))
        updater = mod._kvstore._updater if via_store else mod._updater
        assert sorted(updater.states, key=str) == (
            ["fc1_bias", "fc1_weight", "fc2_bias", "fc2_weight"] if via_store
            else list(range(8)))
        mod.load_optimizer_states(str(tmp_path / "s"))


# ---- SequentialModule and PythonLossModule ---------------------------------------------------
def seq_modules(mx, ndev=1):
    n1 = mx.sym.Activation(mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=8, name="fc1"),
                           act_type="tanh", name="t1")
    n2 = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=4,
                                                    name="fc2"), name="softmax")
    m1 = mx.mod.Module(n1, label_names=None, context=contexts(mx, ndev))
    m2 = mx.mod.Module(n2, context=contexts(mx, ndev))
    return mx.mod.SequentialModule().add(m1).add(m2, take_labels=True, auto_wiring=True)


def seq_init(mx):
    rng = np.random.RandomState(5)
    return {"fc1_weight": mx.nd.array(rng.uniform(-.5, .5, (8, 10))),
            "fc1_bias": mx.nd.zeros(8), "fc2_weight": mx.nd.array(rng.uniform(-.5, .5, (4, 8))),
            "fc2_bias": mx.nd.zeros(4)}


@pytest.mark.parametrize("ndev", [1, 2])
def test_sequential_module_fit_matches_mxnet(ndev, caplog):
    rng = np.random.RandomState(0)
    x = rng.normal(size=(120, 10)).astype(np.float32)
    y = rng.randint(0, 4, size=120).astype(np.float32)
    got = []
    for mx in (mxnet, mxopt):
        seq = seq_modules(mx, ndev)
        it = mx.io.NDArrayIter(x, y, 20)
        caplog.clear()
        with caplog.at_level(logging.INFO), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            seq.fit(it, num_epoch=3, arg_params=seq_init(mx), eval_metric="ce",
                    optimizer_params={"learning_rate": 0.5}, kvstore="device")
        arg, aux = seq.get_params()
        got.append({"params": {k: v.asnumpy() for k, v in arg.items()},
                    "logs": [r.getMessage() for r in caplog.records
                             if "Time cost" not in r.getMessage()],
                    "score": seq.score(it, "acc"), "shapes": (seq.output_shapes,
                                                              seq.label_shapes, seq.data_names,
                                                              seq.output_names, aux),
                    "predict": seq.predict(it).asnumpy()})
    a, b = got
    assert a["logs"] == b["logs"] and a["score"] == b["score"]
    assert repr(a["shapes"]) == repr(b["shapes"])
    np.testing.assert_allclose(b["predict"], a["predict"], rtol=RTOL, atol=ATOL)
    for k in a["params"]:
        np.testing.assert_allclose(b["params"][k], a["params"][k], rtol=RTOL, atol=ATOL)


def test_sequential_module_rules():
    for mx in (mxnet, mxopt):
        seq = mx.mod.SequentialModule()
        with pytest.raises(AssertionError, match="empty SequentialModule"):
            seq.bind([("data", (2, 10))])
        with pytest.raises(AssertionError, match='Unknown meta "take_label"'):
            seq.add(mx.mod.Module(mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=2)),
                    take_label=True)
        a = mx.mod.Module(mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=3, name="fc"),
                          label_names=None)
        b = mx.mod.Module(mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=3, name="fc"),
                          label_names=None)
        seq = mx.mod.SequentialModule().add(a).add(b, auto_wiring=True)
        seq.bind([("data", (2, 3))])
        assert seq.label_shapes is None
        with pytest.raises(AssertionError, match='Duplicated parameter names: name "fc_'):
            seq.init_params()


def test_python_loss_module_matches_mxnet():
    rng = np.random.RandomState(2)
    x = rng.normal(size=(60, 10)).astype(np.float32)
    y = rng.randint(0, 4, size=60).astype(np.float32)
    w0 = rng.uniform(-.5, .5, (4, 10))

    def grad(scores, labels):
        s = scores.asnumpy()
        g = np.exp(s - s.max(axis=1, keepdims=True))
        g /= g.sum(axis=1, keepdims=True)
        g[np.arange(len(g)), labels.asnumpy().astype(int)] -= 1
        return g  # numpy: converted with mx.nd.array
    got = []
    for mx in (mxnet, mxopt):
        net = mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=4, name="fc")
        m = mx.mod.Module(net, label_names=None)
        loss = mx.mod.PythonLossModule(grad_func=grad)
        seq = mx.mod.SequentialModule().add(m).add(loss, take_labels=True, auto_wiring=True)
        it = mx.io.NDArrayIter(x, y, 20)
        seq.bind(it.provide_data, it.provide_label)
        seq.init_params(arg_params={"fc_weight": mx.nd.array(w0),
                                    "fc_bias": mx.nd.zeros(4)})
        seq.init_optimizer(optimizer_params={"learning_rate": 0.1})
        metric = mx.metric.create("acc")
        for _ in range(2):
            it.reset()
            for b in it:
                seq.forward(b, is_train=True)
                seq.backward()
                seq.update()
                seq.update_metric(metric, b.label)
        got.append({"params": {k: v.asnumpy() for k, v in seq.get_params()[0].items()},
                    "facts": (loss.binded, loss.output_shapes, loss.output_names,
                              loss.data_names, loss.get_params(), metric.get()),
                    "grad": loss.get_input_grads()[0].dtype})
        with pytest.raises(AssertionError, match="out_grads should be None"):
            loss.backward(out_grads=[mx.nd.ones((2, 4))])
        with pytest.raises(NotImplementedError):
            mx.mod.PythonLossModule().install_monitor(None)
    a, b = got
    assert repr(a["facts"]) == repr(b["facts"]) and a["grad"] == b["grad"]
    for k in a["params"]:
        np.testing.assert_allclose(b["params"][k], a["params"][k], rtol=RTOL, atol=ATOL)


def test_state_inputs_on_two_contexts():
    got = []
    for mx in (mxnet, mxopt):
        net = mx.sym.FullyConnected(mx.sym.var("data"), weight=mx.sym.var("state"),
                                    no_bias=True, num_hidden=3, name="fc")
        net = mx.sym.LinearRegressionOutput(net, name="lro")
        mod = mx.mod.Module(net, label_names=("lro_label",), state_names=["state"],
                            context=contexts(mx, 2))
        mod.bind([("data", (4, 5))], [("lro_label", (4, 3))])
        mod.init_params()
        with pytest.raises(AssertionError, match="merge_multi_context=True is not supported"):
            mod.get_states()
        x = mx.nd.array(np.arange(20, dtype=np.float32).reshape(4, 5) / 10)
        batch = mx.io.DataBatch([x], [mx.nd.zeros((4, 3))])
        mod.set_states(value=0.5)
        mod.forward(batch, is_train=False)
        first = mod.get_outputs()[0].asnumpy()
        w0 = mx.nd.array(np.random.RandomState(0).normal(size=(3, 5)).astype(np.float32))
        w1 = mx.nd.array(np.random.RandomState(1).normal(size=(3, 5)).astype(np.float32))
        mod.set_states(states=[[w0, w1]])  # one array per context
        mod.forward(batch, is_train=False)
        states = mod.get_states(merge_multi_context=False)
        got.append([first, mod.get_outputs()[0].asnumpy(), [s.asnumpy() for s in states[0]],
                    mod.get_outputs(merge_multi_context=False)[0][1].shape])
    a, b = got
    np.testing.assert_allclose(b[0], a[0], rtol=1e-5, atol=1e-6)
    # MXNet's MKLDNN FullyConnected on mx.cpu(0) keeps computing with the state it first saw
    # (its weight cache misses the copy); its second context and every state value agree
    np.testing.assert_allclose(b[1][2:], a[1][2:], rtol=1e-5, atol=1e-6)
    x0 = np.arange(10, dtype=np.float32).reshape(2, 5) / 10
    np.testing.assert_allclose(b[1][:2], x0 @ b[2][0].T, rtol=1e-5, atol=1e-6)
    for x, y in zip(a[2], b[2]):
        np.testing.assert_array_equal(y, x)
    assert a[3] == b[3] == (2, 3)


def test_a_user_store_without_optimizer_gets_mxnets_calls():
    # a registered store that can only init and sum: MXNet inits (no broadcast) and pushpulls
    # the gradients; every device then runs the updater
    calls, got = {}, []
    for mx in (mxnet, mxopt):
        log = calls.setdefault(mx.__name__, [])

        class SumStore(mx.kv.KVStoreBase):
            def init(self, key, value):
                log.append(("init", key))

            def pushpull(self, key, value, out=None, priority=0):
                log.append(("pushpull", key, priority))
                total = value[0].copy()
                for v in value[1:]:
                    total += v
                for o in (value if out is None else out):
                    o[:] = total

            def is_capable(self, capability):
                return False

            @property
            def type(self):
                return "sumstore"

            @property
            def num_workers(self):
                return 1
        mod, res = train(mx, 2, SumStore(), steps=4)
        got.append(res)
    assert calls["mxnet"] == calls["mxopt"] and len(calls["mxopt"]) == 4 + 4 * 4
    results_close(*got)


@pytest.mark.parametrize("update_env", [None, "0"])
def test_lr_and_wd_multipliers_reach_str_and_int_indices(update_env, env):
    # on the store the optimizer sees names ('fc1_weight'), off it i * num_contexts + k
    env(update_env)
    got = []
    for mx in (mxnet, mxopt):
        w = mx.sym.Variable("fc1_weight", lr_mult=0.5, wd_mult=3.0)
        h = mx.sym.FullyConnected(mx.sym.Variable("data"), weight=w, num_hidden=16, name="fc1")
        h = mx.sym.Activation(h, act_type="relu", name="relu1")
        h = mx.sym.FullyConnected(h, num_hidden=5, name="fc2")
        net = mx.sym.SoftmaxOutput(h, name="softmax")
        x, y = data(60)
        it = mx.io.NDArrayIter(x, y, 20)
        mod = mx.mod.Module(net, context=contexts(mx, 2))
        mod.bind(it.provide_data, it.provide_label)
        mod.init_params(arg_params={k: mx.nd.array(v) for k, v in init_params().items()})
        mod.init_optimizer(kvstore="device", optimizer="sgd",
                           optimizer_params=(("learning_rate", 0.2), ("wd", 0.05)))
        for b in it:
            mod.forward_backward(b)
            mod.update()
        got.append({k: v.asnumpy() for k, v in mod.get_params()[0].items()})
        opt = mod._optimizer
        got.append((sorted(opt.lr_mult.items()), sorted(opt.wd_mult.items())))
    assert got[1] == got[3]
    for k in got[0]:
        np.testing.assert_allclose(got[2][k], got[0][k], rtol=RTOL, atol=ATOL)
