"""examples/train_mnist_fit.py run under mxopt and under MXNet 1.9.1 (the same file with only
its import line switched) on small synthetic MNIST files in the real gzip'ed
idx format: the same log lines (speed and time masked; metric values to float32 rounding),
final parameters equal to float32 tolerance, checkpoints loadable by the other side, and a
resumed run equal to an uninterrupted one."""
import gzip
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mxnet_oracle import require_mxnet

mxnet = require_mxnet()
import mxopt

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "train_mnist_fit.py"
IMPORT_LINE = "import mxopt as mx\n"  # the one line that differs between the two runs

def write_mnist(directory, n_train=500, n_val=150, seed=0):
    """Synthetic digits: a random prototype per class plus noise, as uint8 idx files."""
    rng = np.random.RandomState(seed)
    protos = rng.randint(0, 256, size=(10, 28, 28))
    os.makedirs(directory, exist_ok=True)
    for images, labels, n in (("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                               n_train),
                              ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", n_val)):
        y = rng.randint(0, 10, size=n).astype(np.uint8)
        x = np.clip(protos[y] * 0.6 + rng.randint(0, 100, size=(n, 28, 28)), 0, 255)
        with gzip.open(os.path.join(directory, images), "wb") as f:
            f.write(struct.pack(">IIII", 2051, n, 28, 28) + x.astype(np.uint8).tobytes())
        with gzip.open(os.path.join(directory, labels), "wb") as f:
            f.write(struct.pack(">II", 2049, n) + y.tobytes())


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("mnist")
    write_mnist(str(d))
    source = EXAMPLE.read_text()
    assert source.count(IMPORT_LINE) == 1
    (d / "fit_mxopt.py").write_text(source)
    (d / "fit_mxnet.py").write_text(source.replace(IMPORT_LINE, "import mxnet as mx\n"))
    return d


def run(backend, mnist_dir, *args, env=None, check=True):
    """Run the example; returns (log lines without the time stamp, stdout, return code)."""
    environ = dict(os.environ)
    environ.update(env or {})
    cmd = [sys.executable, str(mnist_dir / f"fit_{backend}.py"),
           "--data-dir", str(mnist_dir), "--num-examples", "500", "--batch-size", "50",
           "--disp-batches", "4", "--lr", "0.02", "--seed", "3"] + list(args)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=environ, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"{backend} run failed:\n{proc.stderr[-4000:]}")
    lines = [ln.split(" Node[", 1)[1] for ln in proc.stderr.splitlines() if " Node[" in ln]
    return ["Node[" + ln for ln in lines], proc.stdout, proc.returncode, proc.stderr


_NUM = re.compile(r"-?\d+\.\d+(?:e[-+]?\d+)?")


def masked(line):
    line = re.sub(r"Speed: \S+ samples/sec", "Speed: - samples/sec", line)
    line = re.sub(r"Time cost=\S+", "Time cost=-", line)
    return re.sub(r"(prefix|model_prefix)='[^']*'", r"\1=-", line)


def assert_same_logs(a, b, rtol=1e-5, atol=2e-6):
    """Identical lines apart from speed, time and paths; numbers to float32 rounding."""
    a, b = [masked(x) for x in a], [masked(x) for x in b]
    assert len(a) == len(b), "\n".join(a) + "\n----\n" + "\n".join(b)
    for x, y in zip(a, b):
        x = re.sub(r'"[^"]*-(\d{4}\.params)"', r'"-\1"', x)
        y = re.sub(r'"[^"]*-(\d{4}\.params)"', r'"-\1"', y)
        assert _NUM.sub("#", x) == _NUM.sub("#", y), (x, y)
        np.testing.assert_allclose([float(v) for v in _NUM.findall(y)],
                                   [float(v) for v in _NUM.findall(x)], rtol=rtol, atol=atol,
                                   err_msg=f"{x}\n{y}")


def params(prefix, epoch, lib=mxopt):
    _, arg, aux = lib.model.load_checkpoint(str(prefix), epoch)
    return {k: v.asnumpy() for k, v in arg.items()}, aux


def assert_params_close(a, b, rtol=1e-5, atol=2e-6):
    assert sorted(a) == sorted(b)
    for k in a:
        np.testing.assert_allclose(b[k], a[k], rtol=rtol, atol=atol, err_msg=k)


RUNS = {
    "one context, default store": [],
    "two contexts, device store": ["--cpus", "0,1", "--top-k", "3", "--loss", "ce,nll"],
    "three contexts, local store": ["--cpus", "0,1,2", "--kv-store", "local", "--loss", "ce",
                                    "--network", "mlp-tanh"],
    "BatchNorm, two contexts": ["--network", "mlp-bn", "--cpus", "0,1", "--wd", "0.001"],
}
# MXNet's threaded engine can drop a BatchNorm moving-statistics update when its tiny batches
# race (docs/programs.md); its NaiveEngine computes what the threaded one is meant to.
ENGINE = {"MXNET_ENGINE_TYPE": "NaiveEngine"}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_fit_driver_logs_and_parameters_match_mxnet(mnist_dir, tmp_path, name):
    args = ["--num-epochs", "4", "--lr-step-epochs", "2,3"] + RUNS[name]
    logs, outs = {}, {}
    for backend in ("mxnet", "mxopt"):
        logs[backend], outs[backend], _, _ = run(backend, mnist_dir, *args, "--model-prefix",
                                                 str(tmp_path / backend), env=ENGINE)
    assert any("Train-accuracy" in x for x in logs["mxopt"])
    assert any("Update[21]: Change learning rate to 2.00000e-03" in x for x in logs["mxopt"])
    assert_same_logs(logs["mxnet"], logs["mxopt"])
    assert outs["mxnet"] == outs["mxopt"]
    # every checkpoint of each side loads in the other, with the same values
    for epoch in range(1, 5):
        mine, mine_aux = params(tmp_path / "mxopt", epoch, mxnet)
        theirs, theirs_aux = params(tmp_path / "mxnet", epoch, mxopt)
        assert_params_close(theirs, mine)
        if "mlp-bn" in RUNS[name]:  # moving means and variances: the first context's copy
            assert sorted(mine_aux) == ["bn1_moving_mean", "bn1_moving_var", "bn2_moving_mean",
                                        "bn2_moving_var"]
            assert_params_close({k: v.asnumpy() for k, v in theirs_aux.items()},
                                {k: v.asnumpy() for k, v in mine_aux.items()})
        else:
            assert mine_aux == {} and theirs_aux == {}
    assert (tmp_path / "mxopt-symbol.json").exists()
    sym_a = mxnet.sym.load(str(tmp_path / "mxopt-symbol.json"))
    sym_b = mxopt.sym.load(str(tmp_path / "mxnet-symbol.json"))
    assert sym_a.list_arguments() == sym_b.list_arguments()


def test_resume_from_a_checkpoint_equals_an_uninterrupted_run(mnist_dir, tmp_path):
    # momentum 0: no optimizer state lives outside the checkpoint; the learning rate steps
    # once before and once after the resume point
    common = ["--num-epochs", "4", "--lr-step-epochs", "1,3", "--mom", "0", "--cpus", "0,1"]
    run("mxopt", mnist_dir, *common, "--model-prefix", str(tmp_path / "full"))
    run("mxopt", mnist_dir, "--num-epochs", "2", *common[2:], "--model-prefix",
        str(tmp_path / "part"))
    logs, _, _, _ = run("mxopt", mnist_dir, *common, "--model-prefix", str(tmp_path / "part"),
                        "--load-epoch", "2")
    assert any("Adjusted the learning rate to 2.000000e-03 for epoch 2" in x for x in logs)
    assert any("Loaded model" in x for x in logs)
    assert not any("Epoch[1]" in x for x in logs)
    full, _ = params(tmp_path / "full", 4)
    resumed, _ = params(tmp_path / "part", 4)
    for k in full:
        np.testing.assert_array_equal(resumed[k], full[k], err_msg=k)
    # the other side's checkpoints resume too: MXNet from mxopt's epoch 2, mxopt from MXNet's
    run("mxnet", mnist_dir, *common, "--model-prefix", str(tmp_path / "mxfull"))
    run("mxnet", mnist_dir, "--num-epochs", "2", *common[2:], "--model-prefix",
        str(tmp_path / "mxpart"))
    for src, backend in (("part", "mxnet"), ("mxpart", "mxopt")):
        dst = tmp_path / ("x" + src)
        for f in ("-symbol.json", "-0002.params"):
            (tmp_path / ("x" + src + f)).write_bytes((tmp_path / (src + f)).read_bytes())
        run(backend, mnist_dir, *common, "--model-prefix", str(dst), "--load-epoch", "2")
        assert_params_close(params(tmp_path / "mxfull", 4)[0], params(dst, 4)[0])


def test_monitor_option_logs_weight_statistics(mnist_dir):
    lines = {}
    for backend in ("mxnet", "mxopt"):
        logs, _, _, _ = run(backend, mnist_dir, "--num-epochs", "1", "--monitor", "5")
        lines[backend] = [x for x in logs if "Batch:" in x]
    assert [x.split()[1:4] for x in lines["mxopt"]] == [x.split()[1:4] for x in lines["mxnet"]]
    assert len(lines["mxopt"]) == 6  # batches 1 and 6, three weights each
    # the statistic is norm / sqrt(size); MXNet's norm adds in another order (~1e-5)
    np.testing.assert_allclose([float(x.split()[-1]) for x in lines["mxopt"]],
                               [float(x.split()[-1]) for x in lines["mxnet"]], rtol=1e-4)


def test_bad_data_files_are_clear_errors(mnist_dir, tmp_path):
    bad = tmp_path / "bad"
    write_mnist(str(bad), n_train=60, n_val=20)
    (bad / "t10k-labels-idx1-ubyte.gz").unlink()
    _, _, rc, err = run("mxopt", mnist_dir, "--data-dir", str(bad), "--num-epochs", "1",
                        check=False)
    assert rc != 0 and "MNIST file not found" in err and "t10k-labels-idx1-ubyte.gz" in err
    with gzip.open(bad / "t10k-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", 2051, 20) + bytes(20))
    _, _, rc, err = run("mxopt", mnist_dir, "--data-dir", str(bad), "--num-epochs", "1",
                        check=False)
    assert rc != 0 and "magic number 2051, expected 2049" in err
    with gzip.open(bad / "t10k-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", 2049, 20) + bytes(19))
    _, _, rc, err = run("mxopt", mnist_dir, "--data-dir", str(bad), "--num-epochs", "1",
                        check=False)
    assert rc != 0 and "19 data bytes for shape (20,)" in err
    _, _, rc, err = run("mxopt", mnist_dir, "--num-epochs", "1", "--load-epoch", "1",
                        check=False)
    assert rc != 0 and "--load-epoch needs --model-prefix" in err
