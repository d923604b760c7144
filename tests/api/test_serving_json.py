"""The answer bytes the per-page-view routes write (api/schemas/serving.py)."""

from __future__ import annotations

import numpy as np

from api.schemas.serving import SCORE_DIGITS, SHORT, rounded_scores


def bits(values: list[float]) -> np.ndarray:
    return np.array(values, np.float64).view(np.uint64)  # -0.0 and 0.0 differ in JSON


def test_rounded_scores_are_round_exactly_on_float32_values() -> None:
    rng = np.random.default_rng(0)
    patterns = rng.integers(0, 2**32, 300_000, dtype=np.uint64).astype(np.uint32)
    every_kind = patterns.view(np.float32)  # normal, subnormal, huge, tiny, infinite
    every_kind = every_kind[~np.isnan(every_kind)]
    scores = rng.normal(0.0, 1.0, 100_000).astype(np.float32)
    # Exact ties at the sixth digit (k / 2**7 times a power of ten is one when k is odd),
    # and values that round to zero from below (-0.0).
    ties = np.array([k / 2**7 for k in range(-3000, 3000)], np.float32)
    small = np.array([-4e-7, -5e-7, -6e-7, 4e-7, 5e-7, 0.0, -0.0], np.float32)
    for values in (every_kind, scores, ties, small):
        floats = values.astype(np.float64).tolist()
        expected = [round(s, SCORE_DIGITS) for s in floats]
        assert (bits(rounded_scores(floats)) == bits(expected)).all()


def test_rounded_scores_of_other_floats_are_round_itself() -> None:
    # numpy's round gives 2e-06 and 4e-06 for the first two: not float32 values, so the
    # fast path must not take them
    floats = [2.5e-06, 3.5e-06, 0.1, 1 / 3, 1e300, float("nan"), -7.0000005] * SHORT
    expected = [round(s, SCORE_DIGITS) for s in floats]
    got = rounded_scores(floats)
    assert str(got) == str(expected)
    assert rounded_scores([]) == []
    assert rounded_scores(floats[:3]) == expected[:3]
