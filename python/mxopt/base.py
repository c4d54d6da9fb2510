"""Errors shared by the whole package (``mx.base``)."""

from __future__ import annotations

import os
import tempfile

__all__ = ["MXNetError"]


class MXNetError(RuntimeError):
    """Raised where MXNet 1.9.1 raises ``mxnet.base.MXNetError`` (a ``RuntimeError``): corrupt
    files, inconsistent shapes, invalid operator parameters."""


def atomic_write(fname: str, data: "bytes | str") -> None:
    """Write ``data`` to ``fname`` through a temporary file in the same directory and an atomic
    rename, so a crash mid-write never leaves a truncated file under ``fname``."""
    directory = os.path.dirname(os.path.abspath(fname))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(fname) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, fname)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
