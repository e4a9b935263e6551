"""PGR arithmetic and its bootstrap, against cases worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from oversight.w2s.pgr import UNDEFINED, figures, pgr


def test_pgr_is_the_share_of_the_gap_recovered():
    assert pgr(0.60, 0.70, 0.80) == pytest.approx(0.5)
    assert pgr(0.60, 0.80, 0.80) == pytest.approx(1.0)
    assert pgr(0.60, 0.50, 0.80) == pytest.approx(-0.5)  # the student fell below its supervisor
    assert pgr(0.50, 0.95, 0.80) == pytest.approx(1.5)  # above the ceiling


def test_no_pgr_where_the_ceiling_does_not_beat_the_weak_supervisor():
    assert pgr(0.80, 0.75, 0.70) is None
    assert pgr(0.70, 0.75, 0.70) is None


def test_figures_use_seed_means_not_a_mean_of_per_seed_ratios():
    # seed 0: weak 1/4, w2s 2/4, ceiling 3/4 -> per-seed PGR 0.5
    # seed 1: weak 1/4, w2s 2/4, ceiling 4/4 -> per-seed PGR 1/3
    # seed means: weak 0.25, w2s 0.5, ceiling 0.875 -> PGR 0.25 / 0.625 = 0.4 (the mean of ratios is 0.4167)
    weak = np.array([[1, 0, 0, 0], [0, 1, 0, 0]])
    w2s = np.array([[1, 1, 0, 0], [1, 0, 1, 0]])
    ceiling = np.array([[1, 1, 1, 0], [1, 1, 1, 1]])
    out = figures(weak, w2s, ceiling, n_boot=500)
    assert out["weak"]["estimate"] == pytest.approx(0.25)
    assert out["w2s"]["estimate"] == pytest.approx(0.5)
    assert out["ceiling"]["estimate"] == pytest.approx(0.875)
    assert out["pgr"]["estimate"] == pytest.approx(0.4)
    assert out["n_test"] == 4 and out["n_seeds"] == 2
    for name in ("weak", "w2s", "ceiling", "pgr"):
        f = out[name]
        assert f["ci_low"] <= f["estimate"] <= f["ci_high"], name


def test_a_ceiling_below_the_weak_supervisor_reports_no_pgr_and_says_why():
    weak = np.array([[1, 1, 1, 0]] * 3)
    w2s = np.array([[1, 1, 0, 0]] * 3)
    ceiling = np.array([[1, 0, 0, 0]] * 3)
    out = figures(weak, w2s, ceiling, n_boot=300)
    assert out["pgr"]["estimate"] is None
    assert out["pgr"]["ci_low"] is None and out["pgr"]["ci_high"] is None
    assert out["pgr_reason"] == UNDEFINED
    assert out["ceiling"]["estimate"] == pytest.approx(0.25)  # the accuracies are still reported
    assert out["weak"]["ci_low"] is not None


def test_bootstrap_interval_narrows_with_more_test_items():
    rng = np.random.default_rng(1)

    def width(n: int) -> float:
        weak = (rng.random((3, n)) < 0.6).astype(int)
        w2s = (rng.random((3, n)) < 0.7).astype(int)
        ceiling = (rng.random((3, n)) < 0.8).astype(int)
        f = figures(weak, w2s, ceiling, n_boot=500)["w2s"]
        return f["ci_high"] - f["ci_low"]

    assert width(2000) < width(50) / 3


def test_arrays_of_different_shapes_are_refused():
    with pytest.raises(ValueError):
        figures(np.ones((2, 3)), np.ones((2, 4)), np.ones((2, 3)))
