"""Differential tests of mx.sym against MXNet 1.9.1: JSON bytes, names, attributes, shapes."""
import json
import warnings

import numpy as np
import pytest

from mxnet_oracle import require_mxnet

mxnet = require_mxnet()
import mxopt


def _graphs(mx):
    out = {}
    data = mx.symbol.Variable("data")
    label = mx.symbol.Variable("softmax_label")
    fc = mx.symbol.FullyConnected(data, name="fc", num_hidden=10)
    out["program"] = mx.symbol.SoftmaxOutput(fc, label, name="softmax")
    w = mx.sym.Variable("w1", init='["uniform", {"scale": 0.5}]', lr_mult=2.0, wd_mult=0,
                        shape=(64, 20), dtype="float32", __extra__=3)
    h = mx.sym.FullyConnected(data, weight=w, num_hidden=64, name="fc1")
    h = mx.sym.Activation(h, act_type="relu", name="r1")
    h = mx.sym.Dropout(h, p=0.3, name="do")
    h = mx.sym.Flatten(h, name="fl")
    h = mx.sym.FullyConnected(h, num_hidden=5, no_bias=True, flatten=False, name="fc2")
    out["mlp"] = mx.sym.SoftmaxOutput(h, name="sm", grad_scale=0.5, normalization="batch",
                                      use_ignore=True, ignore_label=3, smooth_alpha=0.1)
    shared = mx.sym.FullyConnected(data, num_hidden=1, name="shared")
    out["group"] = mx.sym.Group([mx.sym.LinearRegressionOutput(shared, name="lin"),
                                 mx.sym.LogisticRegressionOutput(shared, name="log")])
    h = data
    for i in range(12):
        h = mx.sym.Activation(h, act_type="tanh", name="a%d" % i)
    out["chain12"] = h
    out["group12"] = mx.sym.Group([mx.sym.Activation(data, act_type="sigmoid", name="s%d" % i)
                                   for i in range(12)])
    out["escapes"] = mx.sym.Variable('we"ird\\n\name\tü', attr={"x": 'a"b', "lr_mult": "3"})
    out["attrs"] = mx.sym.MAERegressionOutput(
        mx.sym.FullyConnected(data, num_hidden=3, name="z",
                              attr={"lr_mult": "2", "__wd_mult__": "0", "ctx_group": "g"}),
        name="mae")
    out["softrelu"] = mx.sym.Activation(mx.sym.Activation(act_type="softrelu", name="sr"),
                                        act_type="softsign", name="ss")
    return out


MX, OURS = _graphs(mxnet), _graphs(mxopt)


@pytest.mark.parametrize("key", list(MX))
def test_json_is_byte_identical(key):
    assert OURS[key].tojson() == MX[key].tojson()


@pytest.mark.parametrize("key", list(MX))
def test_introspection_matches(key):
    a, b = MX[key], OURS[key]
    assert b.list_arguments() == a.list_arguments()
    assert b.list_outputs() == a.list_outputs()
    assert b.list_auxiliary_states() == a.list_auxiliary_states()
    assert b.list_inputs() == a.list_inputs()
    assert b.attr_dict() == a.attr_dict()
    assert b.list_attr() == a.list_attr()
    assert b.name == a.name
    assert b.get_internals().list_outputs() == a.get_internals().list_outputs()
    for k in ("lr_mult", "__lr_mult__", "num_hidden", "wd_mult", "nokey"):
        assert b.attr(k) == a.attr(k)


@pytest.mark.parametrize("key", list(MX))
def test_json_round_trips_both_ways(key, tmp_path):
    js = MX[key].tojson()
    assert mxopt.sym.load_json(js).tojson() == js
    assert mxnet.sym.load_json(OURS[key].tojson()).tojson() == js
    f = str(tmp_path / "s-symbol.json")
    OURS[key].save(f)
    assert open(f, encoding="utf-8").read() == js
    assert mxnet.sym.load(f).tojson() == js
    MX[key].save(f)
    assert mxopt.sym.load(f).tojson() == js


@pytest.mark.parametrize("kw", [dict(data=(128, 20)), dict(data=(0, 20)),
                                dict(softmax_label=(128,)), dict(data=(128, 20), fc_weight=(10, 20)),
                                dict()])
def test_infer_shape_matches_including_warnings(kw):
    a, b = MX["program"], OURS["program"]
    with warnings.catch_warnings(record=True) as wa:
        warnings.simplefilter("always")
        ra = a.infer_shape(**kw)
    with warnings.catch_warnings(record=True) as wb:
        warnings.simplefilter("always")
        rb = b.infer_shape(**kw)
    assert rb == ra
    assert [str(w.message) for w in wb] == [str(w.message) for w in wa]
    assert b.infer_shape_partial(**kw) == a.infer_shape_partial(**kw)


@pytest.mark.parametrize("key", ["mlp", "group", "chain12", "attrs", "softrelu"])
def test_infer_shape_of_other_graphs(key):
    name = "sr_data" if key == "softrelu" else "data"
    assert OURS[key].infer_shape(**{name: (8, 20)}) == MX[key].infer_shape(**{name: (8, 20)})


@pytest.mark.parametrize("make", [
    lambda mx, d: mx.sym.SoftmaxOutput(d, name="s", multi_output=True),
    lambda mx, d: mx.sym.SoftmaxOutput(d, name="s", preserve_shape=True),
    lambda mx, d: mx.sym.SoftmaxOutput(d, name="s"),
    lambda mx, d: mx.sym.LinearRegressionOutput(d, name="s"),
    lambda mx, d: mx.sym.FullyConnected(d, num_hidden=4, flatten=False, name="s"),
    lambda mx, d: mx.sym.Flatten(d, name="s"),
])
@pytest.mark.parametrize("shape", [(4, 3), (4, 3, 5), (4, 1), (2, 3, 2, 2)])
def test_shape_rules_of_each_operator(make, shape):
    a = make(mxnet, mxnet.sym.Variable("d")).infer_shape(d=shape)
    b = make(mxopt, mxopt.sym.Variable("d")).infer_shape(d=shape)
    assert b == a


@pytest.mark.parametrize("label", [(4, 5), (4, 1, 5), (4, 3, 5), (4, 2)])
def test_multi_output_label_shapes(label):
    def run(mx):
        s = mx.sym.SoftmaxOutput(mx.sym.Variable("d"), name="s", multi_output=True)
        try:
            return s.infer_shape(d=(4, 3, 5), s_label=label)
        except Exception as e:  # both must fail for the same inputs
            return type(e).__name__
    a = run(mxnet)
    b = run(mxopt)
    assert (b == "MXNetError") if a == "MXNetError" else (b == a)


def test_regression_label_rules():
    for data, label in [((4, 1), (4,)), ((4, 3), (4, 3)), ((4, 3), (4, 1, 3)), ((4, 3), (5, 3)),
                        ((4, 3), (4, 2))]:
        outs = []
        for mx in (mxnet, mxopt):
            s = mx.sym.LogisticRegressionOutput(mx.sym.Variable("d"), name="r")
            try:
                outs.append(s.infer_shape(d=data, r_label=label))
            except Exception as e:
                outs.append(type(e).__name__)
        assert outs[1] == outs[0], (data, label, outs)


def test_inconsistent_shapes_raise_mxneterror_naming_the_operator(capsys):
    with pytest.raises(mxopt.base.MXNetError,
                       match=r"Error in operator softmax: Shape inconsistent, Provided = \[127\], "
                             r"inferred shape=\[128\]"):
        OURS["program"].infer_shape(data=(128, 20), softmax_label=(127,))
    assert "infer_shape error. Arguments:" in capsys.readouterr().out
    with pytest.raises(mxnet.base.MXNetError, match="Shape inconsistent"):
        MX["program"].infer_shape(data=(128, 20), softmax_label=(127,))
    with pytest.raises(mxopt.base.MXNetError, match="argument name nosuch not found"):
        OURS["program"].infer_shape(data=(128, 20), nosuch=(1,))
    with pytest.raises(mxopt.base.MXNetError, match="Error in operator fc"):
        OURS["program"].infer_shape(data=(128, 20), fc_weight=(10, 21))


def test_automatic_names_and_auto_variables():
    # Counters are per process: compare the increments, not absolute numbers.
    def names(mx):
        d = mx.sym.Variable("data")
        a = mx.sym.Activation(d, act_type="relu")
        b = mx.sym.Activation(d, act_type="relu")
        f = mx.sym.FullyConnected(d, num_hidden=3)
        return a.name, b.name, f.list_arguments()
    a0, b0, f0 = names(mxopt)
    assert a0.startswith("activation") and int(b0[10:]) == int(a0[10:]) + 1
    assert f0[1].startswith("fullyconnected") and f0[1].endswith("_weight")
    m = names(mxnet)
    assert m[2][1].endswith("_weight")


def test_composition_by_call():
    def build(mx):
        net = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=4, name="fc1")
        act = mx.sym.Activation(mx.sym.Variable("data"), act_type="relu", name="act")
        return act(data=net, name="composed")
    a, b = build(mxnet), build(mxopt)
    assert b.tojson() == a.tojson()
    assert b.name == "composed"


def _legacy(case):
    doc = {"nodes": [{"op": "null", "name": "data", "inputs": []},
                     {"op": "null", "name": "fc_weight", "inputs": []},
                     {"op": "null", "name": "fc_bias", "inputs": []},
                     {"op": "FullyConnected", "name": "fc", "attrs": {"num_hidden": "3"},
                      "inputs": [[0, 0, 0], [1, 0, 0], [2, 0, 0]]}],
           "arg_nodes": [0, 1, 2], "heads": [[3, 0, 0]]}
    fc = doc["nodes"][3]
    if case == "hidden_key_0.9.3":
        doc["attrs"] = {"mxnet_version": ["int", 903]}
        fc["attrs"]["lr_mult"] = "2"
    elif case == "input_mult_0.9.3":
        doc["attrs"] = {"mxnet_version": ["int", 903]}
        fc["attrs"]["weight_lr_mult"] = "2"
    elif case == "param_key":
        fc["param"] = fc.pop("attrs")
    elif case == "two_number_entries":
        fc["inputs"] = [[0, 0], [1, 0], [2, 0]]
        fc["backward_source_id"] = -1
        doc["heads"] = [[3, 0]]
    elif case == "missing_params_0.8.0":
        doc["attrs"] = {"mxnet_version": ["int", 800]}
        doc["nodes"] = [doc["nodes"][0], fc]
        fc["inputs"] = [[0, 0, 0]]
        doc["heads"] = [[1, 0, 0]]
        doc["arg_nodes"] = [0]
    return json.dumps(doc)


@pytest.mark.parametrize("case", ["hidden_key_0.9.3", "input_mult_0.9.3", "param_key",
                                  "two_number_entries", "missing_params_0.8.0"])
def test_legacy_json_loads_like_mxnet(case):
    js = _legacy(case)
    a = mxnet.sym.load_json(js)
    b = mxopt.sym.load_json(js)
    assert b.list_arguments() == a.list_arguments()
    assert b.attr_dict() == a.attr_dict()
    assert b.tojson() == a.tojson()


def test_unknown_node_field_is_rejected():
    bad = '{"nodes": [{"op": "null", "name": "x", "inputs": [], "foo": 1}], "heads": [[0, 0, 0]]}'
    with pytest.raises(mxnet.base.MXNetError, match="Unknown field foo"):
        mxnet.sym.load_json(bad)
    with pytest.raises(mxopt.base.MXNetError, match="Unknown field foo"):
        mxopt.sym.load_json(bad)


@pytest.mark.parametrize("make, msg", [
    (lambda mx, d: mx.sym.FullyConnected(d, name="fc"), "Required parameter num_hidden of int is not presented"),
    (lambda mx, d: mx.sym.FullyConnected(d, num_hidden=0), "should be greater equal to 1"),
    (lambda mx, d: mx.sym.FullyConnected(d, num_hidden="abc"), "Invalid Parameter format for num_hidden expect int but value='abc'"),
    (lambda mx, d: mx.sym.FullyConnected(d, num_hidden=10.5), "Invalid Parameter format for num_hidden"),
    (lambda mx, d: mx.sym.FullyConnected(d, num_hidden=10, foo=1), "Cannot find argument 'foo'"),
    (lambda mx, d: mx.sym.FullyConnected(d, num_hidden=10, no_bias="maybe"), "expect boolean but value='maybe'"),
    (lambda mx, d: mx.sym.Activation(d, act_type="foo"), "Invalid Input: 'foo', valid values are: {'relu', 'sigmoid', 'softrelu', 'softsign', 'tanh'}"),
    (lambda mx, d: mx.sym.Activation(d), "Required parameter act_type"),
    (lambda mx, d: mx.sym.Dropout(d, p=1.5), "value 1.5 for Parameter p exceed bound [0,1]"),
    (lambda mx, d: mx.sym.SoftmaxOutput(d, normalization="xx"), "Invalid Input: 'xx'"),
    (lambda mx, d: mx.sym.FullyConnected(d, num_hidden=3, foo=mx.sym.Variable("w")), "argument name foo not found"),
    (lambda mx, d: mx.sym.Activation(mx.sym.Group([d, d]), act_type="relu"), "single value is required"),
])
def test_bad_operator_arguments_raise_like_mxnet(make, msg):
    with pytest.raises(mxnet.base.MXNetError) as ea:
        make(mxnet, mxnet.sym.Variable("d"))
    assert msg in str(ea.value)
    with pytest.raises(mxopt.base.MXNetError) as eb:
        make(mxopt, mxopt.sym.Variable("d"))
    assert msg in str(eb.value)


def test_variable_argument_errors():
    for mx in (mxnet, mxopt):
        with pytest.raises(TypeError, match="Expect a string for variable `name`"):
            mx.sym.Variable(3)
        with pytest.raises(ValueError, match="Attribute name=foo is not supported"):
            mx.sym.Variable("w", foo=5)


def test_variable_attributes_match():
    for kw in [dict(shape=(3, 4)), dict(lr_mult=2, wd_mult=0.5), dict(dtype="float64"),
               dict(dtype=np.int32), dict(init='["zero", {}]'), dict(stype="row_sparse"),
               dict(attr={"lr_mult": "3", "k": "v"}), dict(__x__=1.5)]:
        a = mxnet.sym.Variable("v", **kw)
        b = mxopt.sym.Variable("v", **kw)
        assert b.attr_dict() == a.attr_dict(), kw
        assert b.tojson() == a.tojson(), kw


def test_repr_len_iter_getitem():
    a, b = MX["group"], OURS["group"]
    assert repr(b) == repr(a)
    assert repr(b.get_internals()) == repr(a.get_internals())
    assert len(b) == len(a) == 2
    assert [repr(s) for s in b] == [repr(s) for s in a]
    assert repr(b.get_internals()["shared_output"]) == repr(a.get_internals()["shared_output"])
    assert b[1].list_outputs() == a[1].list_outputs()


def test_control_characters_round_trip_like_mxnet():
    # MXNet writes bytes other than \n \r \t \" \\ raw, and reads them back (fuzz finding).
    a = mxnet.sym.Variable("a\x01b\x1fc\x0c", attr={"k": "v\x02"})
    b = mxopt.sym.Variable("a\x01b\x1fc\x0c", attr={"k": "v\x02"})
    assert b.tojson() == a.tojson()
    assert mxopt.sym.load_json(a.tojson()).tojson() == a.tojson()
    assert mxnet.sym.load_json(b.tojson()).tojson() == a.tojson()
