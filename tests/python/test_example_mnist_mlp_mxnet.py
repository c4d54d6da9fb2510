"""examples/mnist_mlp.py under mxopt and under MXNet 1.9.1 (only the import line switched), on
the same synthetic MNIST idx files: the same log lines (metrics to float32 tolerance, timings
masked) and the same predictions."""
import re

import numpy as np
import pytest

from example_runner import log_shape, numbers, run_example
from mxnet_oracle import require_mxnet

require_mxnet()  # the example also runs under MXNet, in a subprocess

_NUM = re.compile(r"[-+]?\d+\.\d+(e[-+]?\d+)?")


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    data = tmp_path_factory.mktemp("mnist")
    out = {}
    for backend in ("mxopt", "mxnet"):
        cwd = tmp_path_factory.mktemp(backend)
        synth = ["--synthesize", "2000"] if backend == "mxopt" else []
        out[backend] = run_example("mnist_mlp.py", backend,
                                   ["--data-dir", str(data), *synth, "--num-epoch", "2",
                                    "--batch-size", "100"], cwd)
    return out


def test_same_log_lines_and_metrics(logs):
    keep = ("INFO:intermediate", "INFO:Epoch", "INFO:iter_predict", "INFO:predict",
            "INFO:score")
    a = log_shape(logs["mxnet"], keep)
    b = log_shape(logs["mxopt"], keep)
    assert len(a) == len(b) and len(a) >= 10, (a, b)
    for la, lb in zip(a, b):
        assert _NUM.sub("#", la) == _NUM.sub("#", lb)
        np.testing.assert_allclose(numbers(lb), numbers(la), rtol=1e-3, atol=1e-3, err_msg=lb)
    # integers (correct counts, shapes, batch counts) are exact
    ints = re.compile(r"\b\d+\b")
    for la, lb in zip(a, b):
        if "iter_predict" in la or "predict:" in la:
            assert ints.findall(la) == ints.findall(lb)
