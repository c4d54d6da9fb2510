"""Checkpoints and state files are written through a temporary file and an atomic rename: a
crash mid-write leaves the previous file intact and no temporary behind."""
import os

import numpy as np
import pytest

import mxopt as mx
from mxopt import base


def _fail_replace(*args, **kwargs):
    raise OSError("simulated crash before the rename")


def test_symbol_save_is_atomic(tmp_path, monkeypatch):
    fname = str(tmp_path / "net-symbol.json")
    old = mx.sym.Variable("old")
    old.save(fname)
    monkeypatch.setattr(base.os, "replace", _fail_replace)
    with pytest.raises(OSError, match="simulated"):
        mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=3, name="fc").save(fname)
    assert mx.sym.load(fname).list_arguments() == ["old"]
    assert os.listdir(tmp_path) == ["net-symbol.json"]


def test_atomic_write_replaces_whole_file(tmp_path):
    fname = str(tmp_path / "f.bin")
    base.atomic_write(fname, b"x" * 100)
    base.atomic_write(fname, b"yz")
    assert open(fname, "rb").read() == b"yz"
    assert os.listdir(tmp_path) == ["f.bin"]


def test_sgld_noise_comes_from_mx_random_seed():
    def run():
        mx.random.seed(7)
        opt = mx.optimizer.SGLD(learning_rate=0.1)
        w = mx.nd.ones((50,))
        opt.update(0, w, mx.nd.zeros((50,)), None)
        return w.asnumpy()

    a, b = run(), run()
    np.testing.assert_array_equal(a, b)  # reproducible from the seed alone
    assert np.std(a) > 0.1  # noise with std sqrt(0.1) was added
