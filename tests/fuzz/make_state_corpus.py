"""Writes tests/fuzz/corpus/updater_states/: safe-format Updater states written by mxopt
(Updater.get_states(format="safe")) for a few optimizers, dense, row_sparse and multi_precision.
    python tests/fuzz/make_state_corpus.py   (with mxopt installed)"""
import os

import numpy as np

import mxopt as mx

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "updater_states")
os.makedirs(OUT, exist_ok=True)
for name, kw in [("adam", {}), ("sgd", {"momentum": 0.9}), ("nadam", {"multi_precision": True}),
                 ("rmsprop", {"centered": True, "multi_precision": True}), ("sgd", {})]:
    up = mx.optimizer.get_updater(mx.optimizer.create(name, **kw))
    up(0, np.ones((2, 3), np.float16), np.ones((2, 3), np.float16))
    up("bias", mx.nd.ones((3,)), mx.nd.ones((3,)))
    if name == "adam":
        w = mx.nd.sparse.row_sparse_array((np.ones((4, 2), np.float32), np.arange(4)), shape=(4, 2))
        up(5, mx.nd.sparse.row_sparse_array((np.ones((1, 2), np.float32), [2]), shape=(4, 2)), w)
    for dump in (False, True):
        with open(os.path.join(OUT, f"{name}{len(kw)}_{int(dump)}.bin"), "wb") as f:
            f.write(up.get_states(dump_optimizer=dump, format="safe"))
print("wrote", sorted(os.listdir(OUT)))
