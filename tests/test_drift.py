"""Drift statistics against values computed independently (SciPy, by hand)."""

from __future__ import annotations

import pytest

from storage import drift


def test_statistics_of_a_skewed_day_against_a_uniform_mix():
    counts, reference = [60, 30, 10], [1 / 3, 1 / 3, 1 / 3]
    assert drift.population_stability_index(counts, reference) == pytest.approx(0.42508353, rel=1e-6)
    assert drift.jensen_shannon_distance(counts, reference) == pytest.approx(0.27623747, rel=1e-6)
    assert drift.chi_square_p_value(counts, reference) == pytest.approx(5.6027964e-09, rel=1e-5)


def test_an_empty_class_gives_finite_statistics():
    counts, reference = [80, 20, 0], [0.5, 0.3, 0.2]
    assert drift.population_stability_index(counts, reference) == pytest.approx(0.89651691, rel=1e-6)
    assert drift.jensen_shannon_distance(counts, reference) == pytest.approx(0.36394857, rel=1e-6)
    assert drift.chi_square_p_value(counts, reference) == pytest.approx(1.0582316e-09, rel=1e-5)


@pytest.mark.parametrize(
    "degrees, expected",
    [(1, 0.02132542), (2, 0.07065121), (3, 0.15110239), (4, 0.25787693), (5, 0.38037503), (7, 0.62340403)],
)
def test_chi_square_survival_matches_scipy(degrees, expected):
    assert drift.chi_square_survival(5.3, degrees) == pytest.approx(expected, rel=1e-6)


def test_the_same_mix_is_no_drift():
    counts = [500, 300, 200]
    assert drift.population_stability_index(counts, [0.5, 0.3, 0.2]) < 1e-5
    assert drift.jensen_shannon_distance(counts, [0.5, 0.3, 0.2]) == pytest.approx(0.0, abs=1e-9)
    assert drift.chi_square_p_value(counts, [0.5, 0.3, 0.2]) == pytest.approx(1.0)


def test_levels_need_both_effect_size_and_significance():
    assert drift.drift_level(1000, 0.30, 0.001) == "drift"
    assert drift.drift_level(1000, 0.15, 0.01) == "watch"
    assert drift.drift_level(1000, 0.30, 0.03) == "watch"
    assert drift.drift_level(1000, 0.05, 1e-9) == "none"
    assert drift.drift_level(1000, 0.40, 0.2) == "none"


def test_a_small_day_never_alarms():
    counts = [9, 1, 0]
    psi = drift.population_stability_index(counts, [1 / 3] * 3)
    assert psi > drift.PSI_DRIFT
    assert drift.drift_level(sum(counts), psi, drift.chi_square_p_value(counts, [1 / 3] * 3)) == "none"
