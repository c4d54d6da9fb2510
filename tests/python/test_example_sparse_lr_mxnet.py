"""examples/sparse_logistic_regression.py under mxopt and under MXNet 1.9.1 (only the import line
switched), on the same synthetic 1,000,001-feature LibSVM files: the same log lines, the same
initial weights, final parameters equal to float32 tolerance, checkpoints each side loads."""
import re

import numpy as np
import pytest

from mxnet_oracle import require_mxnet

mxnet = require_mxnet()
import mxopt
from example_runner import log_shape, numbers, run_example

FEATURES = 1000001
_NUM = re.compile(r"[-+]?\d+\.\d+(e[-+]?\d+)?")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = {}
    data = tmp_path_factory.mktemp("sparse_data")
    for opt in ("adam", "adagrad", "sgd"):
        for kv in ("", "local"):
            if kv and opt != "adam":
                continue
            logs = {}
            for backend in ("mxopt", "mxnet"):
                cwd = tmp_path_factory.mktemp(f"{backend}_{opt}_{kv or 'none'}")
                synth = ["--synthesize", "3000"] if not (data / "train.libsvm").exists() else []
                args = ["--data-train", str(data / "train.libsvm"),
                        "--data-val", str(data / "val.libsvm"), *synth,
                        "--num-features", str(FEATURES), "--batch-size", "512",
                        "--num-epoch", "2", "--optimizer", opt, "--lr", "0.05",
                        "--disp-batches", "2", "--model-prefix", str(cwd / "model")]
                if kv:
                    args += ["--kvstore", kv]
                logs[backend] = (run_example("sparse_logistic_regression.py", backend, args, cwd),
                                 cwd)
            out[(opt, kv)] = logs
    return out


CASES = [("adam", ""), ("adagrad", ""), ("sgd", ""), ("adam", "local")]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1] or 'nokv'}")
def test_same_log_lines(runs, case):
    keep = ("INFO:Epoch", "INFO:epoch", "INFO:Training")
    a = log_shape(runs[case]["mxnet"][0], keep)
    b = log_shape(runs[case]["mxopt"][0], keep)
    assert len(a) == len(b) and len(a) > 4
    for la, lb in zip(a, b):
        assert _NUM.sub("#", la) == _NUM.sub("#", lb)
        np.testing.assert_allclose(numbers(lb), numbers(la), rtol=2e-3, atol=1e-5, err_msg=lb)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1] or 'nokv'}")
def test_final_parameters_match_and_checkpoints_cross_load(runs, case):
    pa = mxnet.nd.load(str(runs[case]["mxnet"][1] / "model-0002.params"))
    pb = mxopt.nd.load(str(runs[case]["mxopt"][1] / "model-0002.params"))
    assert sorted(pa) == sorted(pb) == ["arg:bias", "arg:weight"]
    assert pa["arg:weight"].stype == pb["arg:weight"].stype == "row_sparse"
    np.testing.assert_allclose(pb["arg:weight"].asnumpy(), pa["arg:weight"].asnumpy(),
                               rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(pb["arg:bias"].asnumpy(), pa["arg:bias"].asnumpy(), rtol=1e-4,
                               atol=1e-6)
    # each side loads the other's checkpoint (the symbol files are the same bytes; loading the
    # symbol needs the custom operator registered, which the example does)
    assert (runs[case]["mxopt"][1] / "model-symbol.json").read_text() == \
        (runs[case]["mxnet"][1] / "model-symbol.json").read_text()
    args, _ = mxnet.model.load_params(str(runs[case]["mxopt"][1] / "model"), 2)
    assert args["weight"].stype == "row_sparse"
    np.testing.assert_array_equal(args["weight"].asnumpy(), pb["arg:weight"].asnumpy())
    args, _ = mxopt.model.load_params(str(runs[case]["mxnet"][1] / "model"), 2)
    np.testing.assert_array_equal(args["weight"].asnumpy(), pa["arg:weight"].asnumpy())

