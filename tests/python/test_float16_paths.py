"""float16 <-> float32 conversions (F16C blocks on x86, mxopt/dtype.h's code otherwise) and the
blocked multi-precision loops on arrays large enough to cross blocks and use threads: the
same values as numpy's conversions and as the float32 kernels on a converted copy."""

import numpy as np
import pytest

import mxopt as mx
from mxopt import _core

# Every class of value: normals, half subnormals, values rounding to zero / to the largest
# half / to inf, ties (round to nearest even), infinities, NaN, signed zeros.
SPECIAL = np.array([0.0, -0.0, 1.0, -2.5, 65504.0, 65519.99, 65520.0, 1e6, -1e6, 6e-8, 3e-8,
                    2.98e-8, 5.96e-8, 1e-5, -6.1e-5, 1.0009765625, 1.00048828125, 1.00146484375,
                    np.inf, -np.inf, np.nan], np.float32)


def _random_floats(n, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(n) * np.exp(rng.uniform(-20, 12, n))).astype(np.float32)
    x[: SPECIAL.size] = SPECIAL
    return x


@pytest.mark.parametrize("n", [1, 7, 8, 9, 2047, 2049, 100_003])
def test_cast_float_to_half_matches_numpy(n):
    x = _random_floats(max(n, SPECIAL.size), 0)[:n]
    out = np.empty(n, np.float16)
    _core.cast_into(x, out)
    ref = x.astype(np.float16)
    np.testing.assert_array_equal(out.view(np.uint16)[~np.isnan(ref)],
                                  ref.view(np.uint16)[~np.isnan(ref)])
    assert np.array_equal(np.isnan(out), np.isnan(ref))


@pytest.mark.parametrize("n", [1, 9, 2049, 100_003])
def test_cast_half_to_float_is_exact(n):
    bits = np.random.default_rng(1).integers(0, 1 << 16, n, dtype=np.uint16)
    if n >= 4:  # smallest subnormal, a negative subnormal, inf, the lowest finite half
        bits[:4] = [0x0001, 0x83ff, 0x7c00, 0xfbff]
    h = bits.view(np.float16)
    out = np.empty(n, np.float32)
    _core.cast_into(h, out)
    ref = h.astype(np.float32)
    finite = ~np.isnan(ref)
    np.testing.assert_array_equal(out.view(np.uint32)[finite], ref.view(np.uint32)[finite])
    assert np.array_equal(np.isnan(out), np.isnan(ref))


@pytest.mark.parametrize("kernel", ["mp_sgd_update", "mp_sgd_mom_update", "mp_nag_mom_update"])
def test_blocked_mp_kernels_equal_float32_kernels(kernel):
    # 100_003 elements: several 2048-element blocks, a ragged tail, and the threaded path.
    n = 100_003
    rng = np.random.default_rng(2)
    w16 = rng.standard_normal(n).astype(np.float16)
    g16 = (rng.standard_normal(n) * 0.1).astype(np.float16)
    w32 = w16.astype(np.float32)
    mom = (rng.standard_normal(n) * 0.01).astype(np.float32)
    kw = dict(lr=0.05, wd=1e-3, rescale_grad=0.5, clip_gradient=1.0)
    ref_w, ref_m = w32.copy(), mom.copy()
    g32 = g16.astype(np.float32)
    for step in range(3):
        if kernel == "mp_sgd_update":
            _core.mp_sgd_update(w16, g16, w32, **kw)
            _core.sgd_update(ref_w, g32, **kw)
        else:
            getattr(_core, kernel)(w16, g16, mom, w32, momentum=0.9, **kw)
            getattr(_core, kernel[3:])(ref_w, g32, ref_m, momentum=0.9, **kw)
        np.testing.assert_array_equal(w32, ref_w)
        np.testing.assert_array_equal(mom, ref_m)
        np.testing.assert_array_equal(w16.view(np.uint16), ref_w.astype(np.float16).view(np.uint16))


def test_multi_precision_adam_large_tensor_equals_manual_master_update():
    # The generic multi-precision wrapper converts the float16 gradient with the library's
    # conversion for large arrays: the update must equal Adam on the float32 master copy.
    n = 50_000
    rng = np.random.default_rng(3)
    w16 = mx.nd.array(rng.standard_normal(n), dtype=np.float16)
    g16 = mx.nd.array(rng.standard_normal(n) * 0.1, dtype=np.float16)
    opt = mx.optimizer.Adam(learning_rate=0.01, wd=1e-4, multi_precision=True)
    ref = mx.optimizer.Adam(learning_rate=0.01, wd=1e-4)
    state = opt.create_state_multi_precision(0, w16)
    w32 = w16.asnumpy().astype(np.float32)
    ref_w = mx.nd.array(w32)
    ref_state = ref.create_state(0, ref_w)
    for _ in range(3):
        opt.update_multi_precision(0, w16, g16, state)
        ref.update(0, ref_w, mx.nd.array(g16.asnumpy().astype(np.float32)), ref_state)
    np.testing.assert_array_equal(state[0].asnumpy(), ref_w.asnumpy())
    np.testing.assert_array_equal(w16.asnumpy(), ref_w.asnumpy().astype(np.float16))
