"""mx.kvstore unit tests (no MXNet): the one-call Updater path equals per-key calls, thread
safety, P3's capability rule, and the store's no-copy guarantees."""
import threading

import numpy as np
import pytest

import mxopt as mx


def _per_key_reference(name, kw, keys, steps, counts_offset=None):
    """Weights after ``steps`` pushes applied key by key with a separate Updater."""
    up = mx.optimizer.get_updater(mx.optimizer.create(name, **kw))
    ws = {k: mx.nd.array(np.random.RandomState(i).normal(size=(3, 4)).astype(np.float32))
          for i, k in enumerate(keys)}
    if counts_offset:
        for k, n in counts_offset.items():
            for s in range(n):
                up(k, mx.nd.ones((3, 4)), ws[k])
    for s in range(steps):
        for i, k in enumerate(keys):
            up(k, mx.nd.array(np.random.RandomState(100 * s + i).normal(size=(3, 4))
                              .astype(np.float32)), ws[k])
    return {k: w.asnumpy() for k, w in ws.items()}


@pytest.mark.parametrize("name,kw", [("sgd", {"momentum": 0.9, "learning_rate": 0.1}),
                                     ("adam", {"learning_rate": 0.01}),
                                     ("adamw", {"learning_rate": 0.01, "wd": 0.1}),
                                     ("rmsprop", {"learning_rate": 0.01}),
                                     ("adagrad", {"learning_rate": 0.1}),
                                     ("nag", {"momentum": 0.9, "learning_rate": 0.1}),
                                     ("lars", {"momentum": 0.9, "learning_rate": 0.1})])
@pytest.mark.parametrize("offset", [None, {"b": 2}])
def test_several_keys_in_one_push_equal_per_key_updates(name, kw, offset):
    keys = ["a", "b", "c"]
    ref = _per_key_reference(name, kw, keys, 4, offset)
    kv = mx.kv.create("local")
    kv.init(keys, [mx.nd.array(np.random.RandomState(i).normal(size=(3, 4)).astype(np.float32))
                   for i in range(3)])
    kv.set_optimizer(mx.optimizer.create(name, **kw))
    if offset:  # unequal update counts: the store must fall back to one call per key
        for k, n in offset.items():
            for _ in range(n):
                kv.push(k, mx.nd.ones((3, 4)))
    for s in range(4):
        kv.push(keys, [mx.nd.array(np.random.RandomState(100 * s + i).normal(size=(3, 4))
                                   .astype(np.float32)) for i in range(3)])
    for k in keys:
        out = mx.nd.zeros((3, 4))
        kv.pull(k, out=out)
        np.testing.assert_array_equal(out.asnumpy().view(np.uint32), ref[k].view(np.uint32))


def test_concurrent_pushes_are_serialised():
    kv = mx.kv.create("device")
    kv.init(list(range(8)), [mx.nd.zeros((64,)) for _ in range(8)])
    kv._set_updater(lambda key, recv, stored: stored.__iadd__(recv))

    def worker():
        for _ in range(200):
            kv.push(list(range(8)), [[mx.nd.ones((64,)), mx.nd.ones((64,))] for _ in range(8)])
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out = mx.nd.zeros((64,))
    for k in range(8):
        kv.pull(k, out=out)
        np.testing.assert_array_equal(out.asnumpy(), np.full(64, 1600.0))


def test_p3_van_has_no_optimizer_capability(monkeypatch):
    monkeypatch.setenv("DMLC_PS_VAN_TYPE", "p3")
    assert mx.kv.create("local").is_capable("optimizer") is False
    monkeypatch.delenv("DMLC_PS_VAN_TYPE")
    assert mx.kv.create("local").is_capable("optimizer") is True


def test_pull_into_the_stored_array_and_sum_buffers_are_reused():
    kv = mx.kv.create("local")
    kv.init(0, mx.nd.zeros((4,)))
    g = mx.nd.ones((4,))
    kv.push(0, g)
    kv.pull(0, out=g)  # the store refers to g itself: nothing to copy
    assert kv._values[0] is g
    kv.push(0, [mx.nd.ones((4,)), mx.nd.ones((4,))])
    buf = kv._merge[0]
    kv.push(0, [mx.nd.ones((4,)) * 2, mx.nd.ones((4,))])
    assert kv._merge[0] is buf and kv._values[0] is buf
    np.testing.assert_array_equal(buf.asnumpy(), np.full(4, 3.0))
