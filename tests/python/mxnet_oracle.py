"""Real MXNet 1.9.1, the oracle of the differential tests.

``mxnet = require_mxnet()`` at the top of a ``*_mxnet.py`` module skips the whole module, with
the reason, when MXNet is not importable (``pip install .[test]`` alone does not install it);
``needs_mxnet`` marks single tests of other modules. scripts/test.sh (CI) sets
MXOPT_REQUIRE_MXNET=1, which turns a missing MXNet into an error: there the differential tests
always run.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Optional

import pytest

INSTALL = "pip install numpy==1.23.5 mxnet==1.9.1 (Python <= 3.11)"


def _load() -> Optional[ModuleType]:
    try:
        return importlib.import_module("mxnet")
    except ImportError as exc:
        if os.environ.get("MXOPT_REQUIRE_MXNET") == "1":
            raise ImportError(f"MXOPT_REQUIRE_MXNET=1 but mxnet is not importable: {exc}") from exc
        global _REASON
        _REASON = f"MXNet 1.9.1 is not importable ({exc}); {INSTALL}"
        return None


_REASON = ""
mxnet_or_none = _load()
needs_mxnet = pytest.mark.skipif(mxnet_or_none is None, reason=_REASON or "needs MXNet 1.9.1")


def require_mxnet() -> ModuleType:
    """The mxnet module; skips the calling test module when it is not importable."""
    if mxnet_or_none is None:
        pytest.skip(_REASON, allow_module_level=True)
    return mxnet_or_none
