"""mx.sym unit tests (no MXNet needed): JSON layout, loader validation, pickling."""
import pickle

import pytest

import mxopt as mx
from mxopt.base import MXNetError

SPEC_JSON = """{
  "nodes": [
    {
      "op": "null", 
      "name": "data", 
      "inputs": []
    }, 
    {
      "op": "null", 
      "name": "fc_weight", 
      "attrs": {"num_hidden": "10"}, 
      "inputs": []
    }, 
    {
      "op": "null", 
      "name": "fc_bias", 
      "attrs": {"num_hidden": "10"}, 
      "inputs": []
    }, 
    {
      "op": "FullyConnected", 
      "name": "fc", 
      "attrs": {"num_hidden": "10"}, 
      "inputs": [[0, 0, 0], [1, 0, 0], [2, 0, 0]]
    }, 
    {
      "op": "null", 
      "name": "softmax_label", 
      "inputs": []
    }, 
    {
      "op": "SoftmaxOutput", 
      "name": "softmax", 
      "inputs": [[3, 0, 0], [4, 0, 0]]
    }
  ], 
  "arg_nodes": [0, 1, 2, 4], 
  "node_row_ptr": [0, 1, 2, 3, 4, 5, 6], 
  "heads": [[5, 0, 0]], 
  "attrs": {"mxnet_version": ["int", 10901]}
}"""


def program():
    data = mx.symbol.Variable("data")
    label = mx.symbol.Variable("softmax_label")
    fc = mx.symbol.FullyConnected(data, name="fc", num_hidden=10)
    return mx.symbol.SoftmaxOutput(fc, label, name="softmax")


def test_spec_program_json_verbatim():
    assert program().tojson() == SPEC_JSON
    assert program().list_arguments() == ["data", "fc_weight", "fc_bias", "softmax_label"]
    assert program().list_outputs() == ["softmax_output"]


def test_minimal_json_loads():
    js = ('{"nodes": [{"op": "null", "name": "x", "inputs": []},'
          ' {"op": "Activation", "name": "a", "attrs": {"act_type": "relu"}, "inputs": [[0, 0]]}],'
          ' "heads": [[1, 0]]}')
    s = mx.sym.load_json(js)
    assert s.list_arguments() == ["x"]
    assert s.infer_shape(x=(2, 3))[1] == [(2, 3)]


@pytest.mark.parametrize("bad", [
    "not json",
    "[]",
    '{"nodes": []}',
    '{"nodes": [{"op": "null", "name": "x", "inputs": []}], "heads": [[3, 0, 0]]}',
    '{"nodes": [{"op": "null", "name": "x", "inputs": []}], "heads": [[0, 1, 0]]}',
    '{"nodes": [{"op": "Conv", "name": "c", "inputs": []}], "heads": [[0, 0, 0]]}',
    '{"nodes": [{"op": "Activation", "name": "a", "attrs": {"act_type": "relu"}, "inputs": [[0, 0, 0]]}],'
    ' "heads": [[0, 0, 0]]}',
    '{"nodes": [{"op": "null", "name": "x", "inputs": []}, {"op": "Activation", "name": "a",'
    ' "attrs": {"act_type": "nope"}, "inputs": [[0, 0, 0]]}], "heads": [[1, 0, 0]]}',
    '{"nodes": [{"op": "null", "name": "x", "inputs": []}, {"op": "FullyConnected", "name": "f",'
    ' "attrs": {"num_hidden": "2"}, "inputs": [[0, 0, 0]]}], "heads": [[1, 0, 0]],'
    ' "attrs": {"mxnet_version": ["int", 10901]}}',
])
def test_loader_rejects_malformed_json(bad):
    with pytest.raises(MXNetError):
        mx.sym.load_json(bad)


def test_load_requires_strings():
    with pytest.raises(TypeError):
        mx.sym.load_json(b"{}")
    with pytest.raises(TypeError):
        mx.sym.load(3)


def test_pickle_and_copy_round_trip():
    s = program()
    t = pickle.loads(pickle.dumps(s))
    assert t.tojson() == s.tojson()
    import copy
    c = copy.deepcopy(s)
    assert c.tojson() == s.tojson() and c._outputs[0][0] is not s._outputs[0][0]


def test_dropout_has_two_graph_outputs_but_one_visible():
    d = mx.sym.Dropout(mx.sym.Variable("x"), name="do")
    assert d.list_outputs() == ["do_output"]
    assert '"node_row_ptr": [0, 1, 3]' in d.tojson()


def test_partial_shapes_propagate():
    arg, out, _ = program().infer_shape_partial(data=(0, 20))
    assert arg == [(0, 20), (10, 20), (10,), (0,)] and out == [(0, 10)]


def test_variable_shape_attribute_is_a_hint():
    d = mx.sym.Variable("data", shape=(4, 6))
    s = mx.sym.FullyConnected(d, num_hidden=2, name="f")
    assert s.infer_shape()[0] == [(4, 6), (2, 6), (2,)]


def test_softmax_alias_creates_softmaxoutput_node():
    s = mx.sym.Softmax(mx.sym.Variable("x"), name="sm")
    assert '"op": "SoftmaxOutput"' in s.tojson()
    assert s.list_arguments() == ["x", "sm_label"]
