"""Runs an example program of examples/ as a user would, under mxopt or under MXNet 1.9.1: the
file is copied and, for MXNet, its one ``import mxopt as mx`` line becomes ``import mxnet as mx``
(nothing else changes). Each run is a subprocess with a timeout, so a hang fails the test."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import List, Sequence

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
IMPORT_LINE = "import mxopt as mx\n"


def run_example(name: str, backend: str, args: Sequence[str], cwd: Path,
                timeout: float = 600) -> List[str]:
    """Run ``examples/<name>`` under ``backend`` ('mxopt' or 'mxnet') in ``cwd``; return its
    log lines (stdout + stderr). Raises AssertionError with the output if it fails."""
    source = (EXAMPLES / name).read_text()
    assert source.count(IMPORT_LINE) == 1, f"{name} must import mxopt exactly once"
    if backend == "mxnet":
        source = source.replace(IMPORT_LINE, "import mxnet as mx\n")
    script = cwd / f"{backend}_{name}"
    script.write_text(source)
    env = dict(os.environ, PYTHONHASHSEED="0", MXNET_STORAGE_FALLBACK_LOG_VERBOSE="0",
               OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
    proc = subprocess.run([sys.executable, str(script), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{backend} run of {name} failed:\n{out[-4000:]}"
    return out.splitlines()


_NUMBER = re.compile(r"[-+]?\d+\.\d+(e[-+]?\d+)?")


def log_shape(lines: Sequence[str], keep: Sequence[str]) -> List[str]:
    """The log lines that start with one of ``keep``'s prefixes, with timing numbers (speed,
    time cost) replaced by '#', for comparing two runs' logs line by line."""
    out = []
    for line in lines:
        if line.startswith("[") and "] " in line[:40] and ("../src" in line or ".cc:" in line):
            continue  # MXNet's C++ log lines (engine, MKLDNN notices)
        if any(line.startswith(k) for k in keep):
            line = re.sub(r"Speed: [\d.]+ samples/sec", "Speed: # samples/sec", line)
            line = re.sub(r"Time cost=[\d.]+", "Time cost=#", line)
            line = re.sub(r"in [\d.]+ s\b", "in # s", line)
            out.append(line)
    return out


def numbers(line: str) -> List[float]:
    return [float(m.group(0)) for m in _NUMBER.finditer(line)]
