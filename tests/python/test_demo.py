"""`python -m mxopt.demo` (the README's first command runs it): the acceptance program trains,
prints MXNet's messages and the parameters, and matches real MXNet when replayed."""
import re
import subprocess
import sys

from mxnet_oracle import needs_mxnet


def run_demo(*args):
    proc = subprocess.run([sys.executable, "-m", "mxopt.demo", *args], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout, proc.stderr


def test_demo_trains_and_prints_like_the_acceptance_program():
    out, err = run_demo("--epochs", "3")
    assert "learning rate from ``lr_scheduler`` has been overwritten" in out
    assert "WARNING Already bound, ignoring bind()" in err
    assert "Parameters already initialized and force_init=False" in err
    assert "WARNING optimizer already initialized, ignoring..." in err
    acc = [float(v) for v in re.findall(r"Epoch\[\d\] Train-accuracy=([0-9.]+)", err)]
    assert len(acc) == 3 and acc[-1] > 0.6 and acc[-1] > acc[0]
    assert len(re.findall(r"Epoch\[\d\] Time cost=[0-9.]+", err)) == 3
    assert "Batch [0-20]\tSpeed:" in err
    assert "epoch 3/3 [" in err  # the progress display
    lines = out.splitlines()
    assert lines.index("fc_weight") < lines.index("fc_bias")


@needs_mxnet
def test_demo_matches_mxnet_when_replayed():
    out, _ = run_demo("--epochs", "2", "--no-progress", "--check-mxnet")
    diff = float(re.search(r"max \|mxopt - MXNet\| over all parameters after training: (\S+)",
                           out).group(1))
    assert diff < 1e-5


def test_demo_rejects_bad_arguments():
    proc = subprocess.run([sys.executable, "-m", "mxopt.demo", "--epochs", "0"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--epochs" in proc.stderr
