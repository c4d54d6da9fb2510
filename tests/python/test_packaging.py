"""The package's metadata and the test suite's behaviour without MXNet."""

import os
import subprocess
import sys
from importlib import metadata

import mxopt

HERE = os.path.dirname(os.path.abspath(__file__))


def test_version_is_written_once():
    """pyproject.toml and CMakeLists.txt read the version from python/mxopt/_version.py."""
    from mxopt._version import __version__

    assert mxopt.__version__ == __version__
    assert metadata.version("mxopt") == __version__


def _pytest_without_mxnet(tmp_path, require):
    blocker = tmp_path / "mxnet"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('mxnet blocked by the test')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(tmp_path)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    env.pop("MXOPT_REQUIRE_MXNET", None)
    if require:
        env["MXOPT_REQUIRE_MXNET"] = "1"
    cmd = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
           "test_lr_scheduler_mxnet.py", "test_ndarray.py"]
    return subprocess.run(cmd, cwd=HERE, env=env, capture_output=True, text=True, timeout=300)


def test_differential_tests_skip_with_the_reason_without_mxnet(tmp_path):
    out = _pytest_without_mxnet(tmp_path, require=False)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "MXNet 1.9.1 is not importable (mxnet blocked by the test)" in out.stdout
    assert "pip install numpy==1.23.5 mxnet==1.9.1" in out.stdout
    assert " passed" in out.stdout and " skipped" in out.stdout  # test_ndarray's own tests ran


def test_ci_makes_a_missing_mxnet_an_error(tmp_path):
    out = _pytest_without_mxnet(tmp_path, require=True)
    assert out.returncode != 0
    assert "MXOPT_REQUIRE_MXNET=1 but mxnet is not importable" in out.stdout + out.stderr
