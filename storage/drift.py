"""Drift statistics between today's class counts and a reference class mix.

Levels (documented in docs/operating.md, "Drift levels"):
- fewer than `MIN_SAMPLE` predictions in the day: "none", statistics still computed but never alarming;
- PSI >= 0.25 and chi-square p < 0.01: "drift";
- PSI >= 0.10 and chi-square p < 0.05: "watch";
- otherwise "none".
PSI's usual rule of thumb (0.1 / 0.25) alone alarms on small days by chance, so the chi-square
test has to agree that the difference is not noise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

MIN_SAMPLE = 50
PSI_WATCH, PSI_DRIFT = 0.10, 0.25
P_WATCH, P_DRIFT = 0.05, 0.01
SMOOTHING = 0.5
"""Pseudo-count added to every class before PSI, so an empty class gives a finite value."""


def _shares(counts: Sequence[float], smoothing: float = 0.0) -> list[float]:
    total = sum(counts) + smoothing * len(counts)
    return [(c + smoothing) / total for c in counts]


def smoothed_shares(counts: Sequence[int]) -> list[float]:
    """Class shares with `SMOOTHING` added to every count: a class never seen is rare, not impossible."""
    return _shares(counts, SMOOTHING)


def population_stability_index(counts: Sequence[int], reference: Sequence[float]) -> float:
    """sum((p - q) * ln(p / q)) over classes, with p today's smoothed shares and q the reference
    (which must give every class a positive share)."""
    observed = smoothed_shares(counts)
    expected = _shares(reference)
    return float(sum((p - q) * math.log(p / q) for p, q in zip(observed, expected, strict=True)))


def jensen_shannon_distance(counts: Sequence[int], reference: Sequence[float]) -> float:
    """The square root of the Jensen-Shannon divergence in bits: 0 same mix, 1 disjoint."""
    p = _shares(counts)
    q = _shares(reference)
    middle = [(a + b) / 2 for a, b in zip(p, q, strict=True)]

    def kl(x: list[float], y: list[float]) -> float:
        return sum(a * math.log2(a / b) for a, b in zip(x, y, strict=True) if a > 0)

    return math.sqrt(max(0.0, (kl(p, middle) + kl(q, middle)) / 2))


def chi_square_p_value(counts: Sequence[int], reference: Sequence[float]) -> float:
    """Goodness-of-fit p-value of the counts against the reference mix (k - 1 degrees of freedom)."""
    total = sum(counts)
    expected = [total * q for q in _shares(reference)]
    statistic = sum((o - e) ** 2 / e for o, e in zip(counts, expected, strict=True) if e > 0)
    return chi_square_survival(statistic, len(counts) - 1)


def chi_square_survival(statistic: float, degrees: int) -> float:
    """P(X >= statistic) for a chi-square variable, in closed form for integer degrees of freedom."""
    half = statistic / 2
    if degrees % 2 == 0:
        term, total = 1.0, 1.0
        for i in range(1, degrees // 2):
            term *= half / i
            total += term
        return float(min(1.0, math.exp(-half) * total))
    total = math.erfc(math.sqrt(half))
    term = math.sqrt(half) * math.exp(-half) * 2 / math.sqrt(math.pi)
    for i in range(1, (degrees + 1) // 2):
        total += term
        term *= half / (i + 0.5)
    return float(min(1.0, total))


def drift_level(count: int, psi: float, p_value: float) -> str:
    if count < MIN_SAMPLE:
        return "none"
    if psi >= PSI_DRIFT and p_value < P_DRIFT:
        return "drift"
    if psi >= PSI_WATCH and p_value < P_WATCH:
        return "watch"
    return "none"
