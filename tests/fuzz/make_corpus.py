"""Writes the fuzz seed corpora with REAL MXNet 1.9.1 (run in a venv that has mxnet):
    python tests/fuzz/make_corpus.py
tests/fuzz/corpus/params/: .params files as mx.nd.save writes them (list and dict forms, every
dtype MXNet saves, row_sparse and csr records, a one-element array, an empty list)."""
import os

import mxnet as mx
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "params")
os.makedirs(OUT, exist_ok=True)
rng = np.random.RandomState(0)

mx.nd.save(os.path.join(OUT, "list_f32.params"), [mx.nd.array(rng.rand(2, 3))])
mx.nd.save(os.path.join(OUT, "dict_dtypes.params"), {
    f"arg:{dt}": mx.nd.array(rng.rand(3, 2) * 10, dtype=dt)
    for dt in ["float32", "float64", "float16", "uint8", "int32", "int8", "int64"]})
mx.nd.save(os.path.join(OUT, "sparse.params"), {
    "rsp": mx.nd.sparse.row_sparse_array((rng.rand(2, 4).astype("float32"), [1, 3]), shape=(5, 4)),
    "csr": mx.nd.sparse.csr_matrix(np.eye(3, dtype="float32"))})
mx.nd.save(os.path.join(OUT, "scalar.params"), {"s": mx.nd.ones((1,))})
mx.nd.save(os.path.join(OUT, "empty_list.params"), [])
print("wrote", sorted(os.listdir(OUT)))

# tests/fuzz/corpus/symbol_json/: symbol JSON as MXNet writes it (Symbol.tojson / prefix-symbol.json).
SYM = os.path.join(HERE, "corpus", "symbol_json")
os.makedirs(SYM, exist_ok=True)
data = mx.sym.Variable("data")
fc = mx.sym.FullyConnected(data, name="fc", num_hidden=10)
with open(os.path.join(SYM, "softmax.json"), "w") as f:
    f.write(mx.sym.SoftmaxOutput(fc, name="softmax").tojson())
h = mx.sym.Activation(mx.sym.FullyConnected(data, name="fc1", num_hidden=16), act_type="relu", name="relu1")
h = mx.sym.Dropout(h, p=0.25, name="drop")
h = mx.sym.FullyConnected(mx.sym.Flatten(h, name="flat"), name="fc2", num_hidden=4, no_bias=True)
with open(os.path.join(SYM, "mlp_group.json"), "w") as f:
    f.write(mx.sym.Group([mx.sym.LinearRegressionOutput(h, name="lin"),
                          mx.sym.LogisticRegressionOutput(h, name="logit")]).tojson())
w = mx.sym.Variable("w", lr_mult=2.0, wd_mult=0.0, init=mx.init.Xavier().dumps())
with open(os.path.join(SYM, "attrs.json"), "w") as f:
    f.write(mx.sym.FullyConnected(data, weight=w, name="fc", num_hidden=3).tojson())
print("wrote", sorted(os.listdir(SYM)))
