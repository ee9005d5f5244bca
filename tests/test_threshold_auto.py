"""--threshold auto: per-class thresholds from val predictions whose correct share is known by construction."""
import math

import numpy as np
import pytest

from plabel.selection.auto import choose, enough, lower_bound, lowest_threshold


def test_lower_bound_is_clopper_pearson():
    from scipy.stats import beta

    assert float(lower_bound(18, 20, 0.9)) == pytest.approx(beta.ppf(0.1, 18, 3))
    assert float(lower_bound(0, 20)) == 0.0
    assert float(lower_bound(20, 20, 0.9)) == pytest.approx(0.1 ** (1 / 20))  # all right: (1 - conf)^(1/n)
    assert not enough(21, 0.9) and enough(22, 0.9)  # 0.1^(1/22) = 0.9006


def test_the_lowest_threshold_whose_bound_reaches_the_target():
    # 100 predictions at confidences 1.00, 0.99, ...: the top 60 all right, the rest half right
    conf = np.linspace(1, 0.01, 100)
    right = np.r_[np.ones(60, bool), np.arange(40) % 2 == 0]
    t, n, precision, bound = lowest_threshold(conf, right, 0.9)
    k = np.cumsum(right)
    expected = max(i for i in range(100) if lower_bound(k[i], i + 1) >= 0.9)
    assert (t, n) == (pytest.approx(conf[expected]), expected + 1)
    assert bound >= 0.9 and precision == pytest.approx(k[expected] / (expected + 1))
    assert lowest_threshold(conf, right, 0.999) is None


def test_ties_are_kept_together():
    conf = np.array([0.9] * 30 + [0.5] * 10)
    right = np.array([True] * 30 + [True] * 5 + [False] * 5)
    t, n, _, _ = lowest_threshold(conf, right, 0.85)
    assert (t, n) == (0.9, 30)  # 0.5 would keep all ten at 0.5, half of them wrong


def test_classes_with_too_few_val_predictions_take_the_global_threshold():
    rng = np.random.default_rng(0)
    conf_a = rng.uniform(0, 1, 400)
    val = {0: (conf_a, rng.uniform(0, 1, 400) < conf_a),  # right with probability = confidence
           1: (np.array([0.99, 0.98]), np.array([True, True]))}
    out = {c.class_id: c for c in choose(val, [0, 1, 2], target=0.9)}
    assert out[0].source == "class" and out[0].lower_bound >= 0.9 and 0.8 < out[0].threshold < 1
    assert out[1].source == "global" and out[2].source == "global"
    pooled = lowest_threshold(np.r_[conf_a, 0.99, 0.98], np.r_[val[0][1], True, True], 0.9)
    assert out[1].threshold == pytest.approx(pooled[0])


def test_no_threshold_reaching_the_target_keeps_nothing():
    val = {0: (np.linspace(1, 0, 50), np.arange(50) % 2 == 0)}
    (c,) = choose(val, [0], target=0.95)
    assert c.source == "none" and c.threshold == math.inf
