"""``dot`` on dense and sparse arrays (MXNet's storage-type dispatch), and the row_sparse
gradient helper of the operators that produce one. Sparse kernels: ``_core.op_csr_*``."""

from __future__ import annotations

from typing import Any, Dict, List

import numpy as np

from .. import _core
from ..base import MXNetError
from .registry import OpDef, Param, Shape, ShapeError, assign_shape, prod, register


def _stype(x: Any) -> str:
    return getattr(x, "stype", "default")


def rsp_assign(g: Any, rows: np.ndarray, values: np.ndarray, req: int) -> None:
    """Write (req 1) or add (req 3) the row_sparse value ``(rows, values)`` into the
    RowSparseNDArray ``g`` (its storage is replaced; rows are sorted and unique)."""
    if req == 0:
        return
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    values = np.ascontiguousarray(values, dtype=g._data.dtype)
    if req == 3 and g._indices.size:
        merged = np.union1d(g._indices, rows)
        out = np.zeros((merged.size,) + values.shape[1:], dtype=values.dtype)
        out[np.searchsorted(merged, g._indices)] += g._data
        out[np.searchsorted(merged, rows)] += values
        rows, values = merged.astype(np.int64), out
    g._indices, g._data = rows, values


def _dense_value(x: Any, name: str) -> np.ndarray:
    """A dense buffer for an operand (row_sparse with every row: its buffer; else densified)."""
    if isinstance(x, np.ndarray):
        return x
    if _stype(x) == "row_sparse":
        rows = x.shape[0]
        idx = x._indices
        if idx.size == rows and (rows == 0 or (idx[0] == 0 and idx[-1] == rows - 1)):
            return x._data
    return x.asnumpy()


def _csr_parts(x: Any) -> tuple:
    return x._data, x._indices, x._indptr, tuple(x.shape)


# ---- shapes ------------------------------------------------------------------------------------------
def _dot_infer(p: Dict[str, Any], ins: List[Shape], outs: List[Shape]) -> None:
    lhs, rhs = ins[0], ins[1]
    if not lhs or not rhs:
        return
    ta, tb = p["transpose_a"], p["transpose_b"]
    if len(lhs) == 1 and len(rhs) == 1:
        if ta or tb:
            raise ShapeError("Cannot transpose vectors")
        if lhs[0] and rhs[0] and lhs[0] != rhs[0]:
            raise ShapeError(f"dot shape error: {_t(lhs)} X {_t(rhs)}")
        assign_shape(outs, 0, (1,))
        return
    if ta:
        l0, l1 = (lhs[0],), (tuple(lhs[1:]) if len(lhs) > 1 else (1,))
    else:
        l0, l1 = (tuple(lhs[:-1]) if len(lhs) > 1 else (1,)), (lhs[-1],)
    if tb:
        r0, r1 = (tuple(rhs[:-1]) if len(rhs) > 1 else (1,)), (rhs[-1],)
    else:
        r0, r1 = (rhs[0],), (tuple(rhs[1:]) if len(rhs) > 1 else (1,))
    lk = l0 if ta else l1
    rk = r1 if tb else r0
    if prod(lk) and prod(rk) and prod(lk) != prod(rk):
        raise ShapeError(f"dot shape error: {_t(lhs)} X {_t(rhs)}")
    out: tuple = ()
    if len(lhs) > 1:
        out += l1 if ta else l0
    if len(rhs) > 1:
        out += r0 if tb else r1
    assign_shape(outs, 0, out)


def _t(s: Shape) -> str:
    return "(" + ",".join(str(d) for d in s) + ")"


# ---- storage types -----------------------------------------------------------------------------------
def _dot_out_stypes(p: Dict[str, Any], st: List[str]) -> List[str]:
    hint = p["forward_stype"]
    if st[0] == "csr" and p["transpose_a"] and not p["transpose_b"] and st[1] != "csr":
        return [hint or "row_sparse"]
    return [hint or "default"]


def _dot_grad_stypes(p: Dict[str, Any], st: List[str]) -> List[str]:
    if st[0] == "csr" and not p["transpose_a"] and not p["transpose_b"]:
        return ["default", "row_sparse"]
    return ["default", "default"]


# ---- dense dot (numpy's BLAS) ---------------------------------------------------------------------------
def _as2d(x: np.ndarray, trans: bool, lhs: bool) -> np.ndarray:
    if x.ndim == 1:
        return x.reshape(1, -1) if lhs else x.reshape(-1, 1)
    if lhs:
        m = x.reshape(x.shape[0], -1) if trans else x.reshape(-1, x.shape[-1])
    else:
        m = x.reshape(-1, x.shape[-1]) if trans else x.reshape(x.shape[0], -1)
    return m.T if trans else m


def _dense_dot(a: np.ndarray, b: np.ndarray, ta: bool, tb: bool, out: np.ndarray) -> None:
    res = _as2d(a, ta, True) @ _as2d(b, tb, False)
    np.copyto(out, res.reshape(out.shape), casting="unsafe")


def _store(dst: np.ndarray, value: np.ndarray, req: int) -> None:
    if req == 1:
        np.copyto(dst, value.reshape(dst.shape), casting="unsafe")
    elif req == 3:
        dst += value.reshape(dst.shape)


# ---- kernels ---------------------------------------------------------------------------------------------
def _dot_forward(p, ins, outs, aux, is_train, st):  # type: ignore[no-untyped-def]
    lhs, rhs, out = ins[0], ins[1], outs[0]
    ta, tb = p["transpose_a"], p["transpose_b"]
    if _stype(lhs) == "csr" and not tb and _stype(rhs) != "csr":
        dense_rhs = _dense_value(rhs, "rhs")
        if rhs.ndim != 2 or lhs.ndim != 2:
            raise MXNetError("dot: a csr operand needs a 2-D dense/row_sparse operand")
        if _stype(out) == "row_sparse":  # csr.T x dense -> row_sparse
            rows, values = _core.op_csr_t_dot_rsp(*_csr_parts(lhs), dense_rhs)
            rsp_assign(out, rows, values, 1)
        else:
            _core.op_csr_dot(*_csr_parts(lhs), dense_rhs, out, ta)
        return
    a = lhs if isinstance(lhs, np.ndarray) else _dense_value(lhs, "lhs")
    b = rhs if isinstance(rhs, np.ndarray) else _dense_value(rhs, "rhs")
    if _stype(out) == "row_sparse":
        full = np.zeros(out.shape, dtype=out._data.dtype)
        _dense_dot(a, b, ta, tb, full)
        flat = full.reshape(full.shape[0], -1)
        rows = np.flatnonzero(np.any(flat != 0, axis=1)).astype(np.int64)
        rsp_assign(out, rows, full[rows], 1)
        return
    _dense_dot(a, b, ta, tb, out)


def _dot_backward(p, og, ins, outs, aux, ig, reqs, st):  # type: ignore[no-untyped-def]
    lhs, rhs, g = ins[0], ins[1], og[0]
    ta, tb = p["transpose_a"], p["transpose_b"]
    if _stype(lhs) == "csr" and not tb and _stype(rhs) != "csr":
        parts = _csr_parts(lhs)
        if reqs[1]:
            grad = ig[1]
            if _stype(grad) == "row_sparse":
                if ta:  # d rhs = csr x ograd (dense rows of every index)
                    full = np.zeros(grad.shape, dtype=grad._data.dtype)
                    _core.op_csr_dot(*parts, g, full, False)
                    rsp_assign(grad, np.arange(full.shape[0], dtype=np.int64), full, reqs[1])
                else:  # d rhs = csr.T x ograd: rows = the columns the batch touches
                    rows, values = _core.op_csr_t_dot_rsp(*parts, g)
                    rsp_assign(grad, rows, values, reqs[1])
            else:
                _core.op_csr_dot(*parts, g, grad, not ta, reqs[1])
        if reqs[0]:  # gradient of the csr data itself: dense, as MXNet's dns.T x ograd
            b = _dense_value(rhs, "rhs")
            value = (g @ b.T) if not ta else (b @ g.T)
            _store(ig[0], value, reqs[0])
        return
    a = _dense_value(lhs, "lhs")
    b = _dense_value(rhs, "rhs")
    a2, b2 = _as2d(a, ta, True), _as2d(b, tb, False)
    g2 = g.reshape(a2.shape[0], b2.shape[1])
    if reqs[0]:
        ga = g2 @ b2.T  # d(a2)
        ga = ga.T if ta else ga
        _store(ig[0], ga, reqs[0])
    if reqs[1]:
        gb = a2.T @ g2  # d(b2)
        gb = gb.T if tb else gb
        _store(ig[1], gb, reqs[1])


register(OpDef("dot",
               [Param("transpose_a", "bool", False), Param("transpose_b", "bool", False),
                Param("forward_stype", "enum?", None, choices=("default", "row_sparse", "csr"))],
               ["lhs", "rhs"], _dot_infer, forward=_dot_forward, backward=_dot_backward,
               sparse_inputs=(0, 1), out_stypes=_dot_out_stypes, grad_stypes=_dot_grad_stypes))
