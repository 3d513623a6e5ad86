"""Numerical helpers for grading: tolerant comparison, centred finite differences, and the
distinct values and median the specs build cases with."""

from __future__ import annotations

import numpy as np

from mlquiz.grading.spec import Mismatch


def compare(got, expected, rtol: float, atol: float, name: str = "out") -> Mismatch | None:
    """Compare ``got`` with ``expected`` elementwise: |got - expected| <= atol + rtol * |expected|.

    Both may be arrays, numbers, or (nested) tuples/lists of them; ``name`` names the output
    in the returned :class:`Mismatch` (``dx``, ``grad_weights[1]``). Returns None when close.
    """
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            count = len(got) if isinstance(got, (tuple, list)) else "a single value"
            return Mismatch(name, f"expected {len(expected)} values, got {count}")
        for i, (g, e) in enumerate(zip(got, expected)):
            mismatch = compare(g, e, rtol, atol, f"{name}[{i}]")
            if mismatch:
                return mismatch
        return None
    try:
        got = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        return Mismatch(name, f"{name} is not a number or an array of numbers")
    expected = np.asarray(expected, dtype=float)
    if got.shape != expected.shape and not (got.size == expected.size == 1):
        return Mismatch(name, f"{name} has shape {got.shape}, expected {expected.shape}")
    got = got.reshape(expected.shape)
    finite_expected = np.isfinite(expected)
    if not np.array_equal(np.isfinite(got), finite_expected):
        bad = ~np.isfinite(got) & finite_expected
        what = "nan" if np.isnan(got[bad]).any() else "inf"
        return Mismatch(name, f"{name} contains {what} where a finite value is expected",
                        rtol=rtol, atol=atol)
    if (got[~finite_expected] != expected[~finite_expected]).any():
        return Mismatch(name, f"{name} differs where the expected value is infinite")
    g, e = got[finite_expected], expected[finite_expected]
    abs_err = np.abs(g - e)
    if (abs_err <= atol + rtol * np.abs(e)).all():
        return None
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        rel_err = np.where(abs_err == 0, 0.0, abs_err / np.abs(e))  # inf where expected is 0
    return Mismatch(
        name,
        f"{name} differs from the expected value",
        max_abs_error=float(abs_err.max()),
        max_rel_error=float(rel_err.max()),
        rtol=rtol,
        atol=atol,
    )


def compare_discrete(got, expected, outputs, rtol: float, atol: float) -> Mismatch | None:
    """Compare a discrete result: several numbers (a stump (feature, threshold, polarity)),
    shown whole as "expected (1, 0.35, +1), got (0, 0.35, +1)", integers compared exactly and
    floats within rtol/atol; or one array of labels, compared exactly and counted ("12 of 40
    labels differ")."""
    if len(outputs) == 1:
        name = outputs[0]
        mismatch = compare(got, expected, 0.0, 0.0, name)
        if mismatch is None or mismatch.max_abs_error is None:
            return mismatch
        g = np.asarray(got, dtype=float).reshape(np.shape(expected))
        e = np.asarray(expected, dtype=float)
        wrong = np.flatnonzero((g != e).reshape(-1))
        first = int(wrong[0])
        return Mismatch(name, f"{wrong.size} of {e.size} labels differ (the first at index {first}: "
                              f"expected {_number(e.flat[first], True)}, got {_number(g.flat[first], True)})")
    count = len(got) if isinstance(got, (tuple, list)) else None
    if count != len(outputs):
        return Mismatch(outputs[0], f"expected {len(outputs)} values ({', '.join(outputs)}), got "
                                    f"{count if count is not None else 'a single value'}")
    for name, g, e in zip(outputs, got, expected):
        if np.size(g) != 1:
            return Mismatch(name, f"{name} must be a single number, got shape {np.shape(g)}")
        g, e = float(np.asarray(g, dtype=float).reshape(())), float(e)
        exact = float(e).is_integer()
        if (g != e) if exact else not abs(g - e) <= atol + rtol * abs(e):
            signed = [n == "polarity" for n in outputs]
            shown = [tuple(_number(v, s) for v, s in zip(values, signed)) for values in (expected, got)]
            return Mismatch(name, f"expected ({', '.join(shown[0])}), got ({', '.join(shown[1])}): "
                                  f"{name} differs")
    return None


def _number(value, signed=False) -> str:
    value = float(np.asarray(value, dtype=float).reshape(()))
    if value.is_integer() and abs(value) < 2**53:
        return f"{int(value):+d}" if signed else str(int(value))
    return f"{value:.10g}"


def numerical_gradient(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Centred finite differences of the scalar function ``f`` at ``x`` (any shape):
    (f(x + h e_i) - f(x - h e_i)) / (2 h) for every element i. ``x`` is not modified."""
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        plus = f(x)
        flat[i] = old - h
        minus = f(x)
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * h)
    return grad


# np.unique and np.median import numpy.ma on first use (about 10 ms of every grade that needs
# them); the specs use these instead.


def distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values of the 1-D array ``values``, sorted (as ``np.unique``)."""
    ordered = np.sort(values)
    keep = np.empty(ordered.size, dtype=bool)
    keep[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def median(values: np.ndarray) -> float:
    """The median of the 1-D array ``values``: its middle value, or the mean of its two middle
    values (as ``np.median``)."""
    ordered = np.sort(values)
    return float((ordered[(ordered.size - 1) // 2] + ordered[ordered.size // 2]) / 2)
