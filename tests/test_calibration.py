"""Temperature scaling: a known over-confidence is recovered, and the ECE falls."""
import numpy as np
import pytest

from plabel.calibration import fit, fit_temperature, reliability, softmax


def overconfident(n=4000, k=10, factor=3.0, seed=0):
    """Labels drawn from softmax(z); the model reports z * factor (over-confident by `factor`)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(scale=1.5, size=(n, k))
    p = softmax(z)
    targets = np.array([rng.choice(k, p=row) for row in p])
    return z * factor, targets


def test_the_fitted_temperature_undoes_a_known_overconfidence():
    logits, targets = overconfident(factor=3.0)
    assert fit_temperature(logits, targets) == pytest.approx(3.0, rel=0.1)
    logits, targets = overconfident(factor=0.5, seed=1)  # under-confident: T < 1
    assert fit_temperature(logits, targets) == pytest.approx(0.5, rel=0.1)


def test_ece_falls_and_predictions_do_not_change():
    logits, targets = overconfident()
    t, before, after = fit(logits, targets)
    assert after.ece() < before.ece() / 2
    assert (softmax(logits, t).argmax(1) == logits.argmax(1)).all()
    assert sum(before.count) == len(targets) == sum(after.count)


def test_reliability_of_a_perfectly_calibrated_toy():
    probs = np.array([[0.75, 0.25]] * 400)
    targets = np.array([0] * 300 + [1] * 100)  # 75% right at 75% confidence
    r = reliability(probs, targets)
    assert r.ece() == pytest.approx(0.0, abs=1e-9)
    (busy,) = [i for i, c in enumerate(r.count) if c]
    assert r.confidence[busy] == pytest.approx(0.75) and r.accuracy[busy] == pytest.approx(0.75)
