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


def test_calibrate_then_infer_and_select_auto_from_the_cli(tmp_path, mnist_folders, cli):
    """Real files, a real (tiny) model: calibrate on val, infer at the fitted temperature, pick
    per-class thresholds from the val predictions, and see them in the what-if."""
    import json

    from plabel.train import TrainOptions, train
    from tests.test_train import FAST, make_ws

    ws = make_ws(tmp_path / "ws", mnist_folders)
    train(ws, TrainOptions(round=0, epochs=3, **FAST))
    r = cli("infer", "--round", "0", "--temperature", "auto", "-w", ws.root)
    assert r.exit_code == 2 and "never calibrated" in r.stderr, r.output
    r = cli("calibrate", "-w", ws.root, "--json")
    assert r.exit_code == 0, r.output
    fitted = json.loads(r.stdout)
    assert fitted["images"] == 100 and fitted["temperature"] > 0 and fitted["nll_after"] <= fitted["nll_before"]
    assert ws.rows("SELECT count(*) FROM calibrations")[0][0] == 1
    r = cli("infer", "--round", "0", "--split", "val", "--temperature", "auto", "--workers", "0", "-w", ws.root)
    assert r.exit_code == 0, r.output
    (t,) = ws.rows("SELECT DISTINCT temperature FROM predictions WHERE round = 0")[0]
    assert t == pytest.approx(fitted["temperature"], rel=1e-5)
    r = cli("select", "--round", "0", "--threshold", "auto", "--target-precision", "0.8", "--json", "-w", ws.root)
    assert r.exit_code == 0, r.output
    chosen = json.loads(r.stdout)
    assert {c["threshold_source"] for c in chosen["classes"]} <= {"class", "global", "best", "none", "dropped"}
    # a 3-epoch teacher: whatever it keeps, the command says whether the whole reached 0.8
    assert chosen["delta"] == 0.1 and chosen["guarantee"] in ("held", "below", "shifted")
    if chosen["guarantee"] != "shifted":
        assert (chosen["guarantee"] == "held") == ((chosen["precision_lower_bound"] or 0) >= 0.8)
    r = cli("select", "--round", "0", "--what-if", "--json", "-w", ws.root)
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert len(rows) == 10 * 19 and all(x["true_precision"] is None or 0 <= x["true_precision"] <= 1 for x in rows)
    r = cli("report", "-w", ws.root, "--json")
    assert r.exit_code == 0, r.output
    assert "calibration" in json.loads(r.stdout)["sections"]
    html = (ws.root / "reports" / "report.html").read_text()
    section = html[html.index('<section id="calibration">'):]
    section = section[:section.index("</section>")]
    assert f"{fitted['temperature']:.4g}" in section and f"{fitted['ece_after']:.4g}" in section
    assert 'id="plot-reliability-0"' in section and "<svg" in section
