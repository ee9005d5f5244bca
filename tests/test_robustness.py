"""Robustness evaluation with a tiny trained model on real digits."""
import json
import shutil

import numpy as np
import pytest

from plabel.errors import UsageError
from plabel.eval_options import EvalOptions
from plabel.evaluate import evaluate
from plabel.robustness import corruptions as C
from plabel.robustness import perturbations as P
from plabel.robustness.measure import evaluate_robustness
from plabel.robustness.options import RobustnessOptions, parse_epsilons, parse_severities
from plabel.train import TrainOptions, train
from plabel.workspace import open_workspace
from tests.test_train import FAST, make_ws

QUICK = dict(split="test", limit=60, workers=0, batch_size=64)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, mnist_folders):
    ws = make_ws(tmp_path_factory.mktemp("robust") / "ws", mnist_folders)
    teacher = train(ws, TrainOptions(round=0, epochs=10, **FAST))
    other = train(ws, TrainOptions(round=0, epochs=6, seed=5, **FAST))
    return ws, teacher.checkpoint_id, other.checkpoint_id


@pytest.fixture
def ws(trained, tmp_path):
    return open_workspace(shutil.copytree(trained[0].root, tmp_path / "ws"))


def image(seed=0, channels=3, size=32):
    return np.random.default_rng(seed).random((size, size, channels)).astype(np.float32)


@pytest.mark.parametrize("name", C.list_corruptions())
@pytest.mark.parametrize("channels", [1, 3])
def test_each_corruption_changes_the_image_and_is_seeded(name, channels):
    x = image(channels=channels)
    for severity in (1, 5):
        a = C.get(name)(x, severity, np.random.default_rng(7))
        b = C.get(name)(x, severity, np.random.default_rng(7))
        assert a.shape == x.shape and a.dtype == np.float32 and a.min() >= 0 and a.max() <= 1
        assert np.array_equal(a, b)
        assert np.abs(a - x).mean() > 1e-3, f"{name} at severity {severity} leaves the image as it was"


def test_the_registry_covers_the_four_families():
    assert len(C.list_corruptions()) == 12 and set(C.REGISTRY) == set(C.list_corruptions())


@pytest.mark.parametrize("name", P.list_perturbations())
def test_perturbation_sequences_are_seeded_and_small(name):
    from scipy import ndimage

    x = ndimage.gaussian_filter(image(), (2, 2, 0))  # a smooth image, like a photo at this size
    seq = P.REGISTRY[name][0](x, P.FRAMES, np.random.default_rng(3))
    again = P.REGISTRY[name][0](x, P.FRAMES, np.random.default_rng(3))
    assert len(seq) == P.FRAMES and all(np.array_equal(a, b) for a, b in zip(seq, again, strict=False))
    assert 0 < np.abs(seq[-1] - seq[0]).mean() < 0.3


def test_flip_rate_counts_changes():
    preds = np.array([[1, 1, 2, 2], [3, 3, 3, 3]])
    assert P.flip_rate(preds, "consecutive") == pytest.approx(100 / 6)
    assert P.flip_rate(preds, "first") == pytest.approx(200 / 6)


def test_severity_5_hurts_more_than_severity_1(ws, trained):
    r = evaluate_robustness(ws, RobustnessOptions(checkpoint=trained[1], severities=(1, 5), **QUICK))
    s1 = np.mean([e[1] for e in r.corruption_errors.values()])
    s5 = np.mean([e[5] for e in r.corruption_errors.values()])
    assert s5 > s1 + 5, (s1, s5)


def test_the_reference_against_itself_scores_100(ws, trained):
    r = evaluate_robustness(ws, RobustnessOptions(kinds=("corruptions", "flips"), checkpoint=trained[1],
                                                  reference=trained[1], corruptions=("gaussian_noise", "pixelate"),
                                                  severities=(3, 5), **QUICK))
    assert r.mce == pytest.approx(100) and all(v == pytest.approx(100) for v in r.ce.values())
    assert r.relative_mce == pytest.approx(100)
    assert all(v == pytest.approx(100) for k, v in r.fr.items() if r.flip_rates[k] > 0)


def test_another_checkpoint_is_normalised_by_the_reference_and_reuses_its_rows(ws, trained):
    opts = dict(kinds=("corruptions",), corruptions=("contrast",), severities=(2, 4), **QUICK)
    r = evaluate_robustness(ws, RobustnessOptions(checkpoint=trained[2], reference=trained[1], **opts))
    con = ws.connect()
    ref_rows = con.execute(
        "SELECT count(*) FROM evals WHERE checkpoint_id = ? AND metric = 'error'", [trained[1]]
    ).fetchall()
    assert ref_rows == [(2,)]  # the reference was measured with the same settings, and recorded
    again = evaluate_robustness(ws, RobustnessOptions(checkpoint=trained[2], reference=trained[1], **opts))
    ref_rows = con.execute(
        "SELECT count(*) FROM evals WHERE checkpoint_id = ? AND metric = 'error'", [trained[1]]
    ).fetchall()
    assert ref_rows == [(2,)] and again.ce == r.ce  # reused, not measured again
    ref_err = {
        s: v
        for s, v in con.execute(
            "SELECT severity, value FROM evals WHERE checkpoint_id = ? AND metric = 'error'", [trained[1]]
        ).fetchall()
    }
    expect = sum(r.corruption_errors["contrast"].values()) / sum(ref_err.values()) * 100
    assert r.ce["contrast"] == pytest.approx(expect)


def test_fgsm_at_zero_is_clean_accuracy_and_does_not_rise(ws, trained):
    r = evaluate_robustness(
        ws,
        RobustnessOptions(
            kinds=("fgsm", "pgd"), checkpoint=trained[1], epsilons=(1 / 255, 4 / 255, 16 / 255), steps=5, **QUICK
        ),
    )
    clean = evaluate(ws, EvalOptions(checkpoint=trained[1], split="test"))
    # the same 60 images: the clean accuracy of the limited split
    from plabel.evaluate import labeled_split

    assert r.fgsm[0.0] == pytest.approx(_clean_on_first(ws, trained[1], 60))
    accs = [r.fgsm[k] for k in sorted(r.fgsm)]
    assert all(b <= a for a, b in zip(accs, accs[1:], strict=False)), accs
    assert r.pgd[round(16 / 255, 6)] <= r.fgsm[round(16 / 255, 6)]
    assert clean.n == len(labeled_split(ws, "test"))


def _clean_on_first(ws, ckpt_id, n):
    from plabel import checkpoints
    from plabel.evaluate import labeled_split, predict_logits
    from plabel.models import resolve_device

    data = labeled_split(ws, "test", n)
    ckpt = checkpoints.find(ws, ckpt_id)
    model = checkpoints.build_model(ckpt, device=resolve_device("cpu"))
    logits, _ = predict_logits(model, data.files, ckpt.data_config)
    return float((logits.argmax(1) == data.targets).mean() * 100)


def test_results_land_in_evals_and_match_the_json(ws, trained, cli):
    r = cli(
        "eval",
        "--checkpoint",
        trained[1],
        "--robustness",
        "corruptions,fgsm",
        "--corruptions",
        "fog",
        "--severities",
        "1,5",
        "--epsilon",
        "2/255",
        "--limit",
        "40",
        "--workers",
        "0",
        "-w",
        ws.root,
        "--json",
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    con = ws.connect()
    rows = {
        (k, m, c, s, e): v
        for k, m, c, s, e, v in con.execute(
            "SELECT kind, metric, corruption, severity, epsilon, value FROM evals WHERE eval_id = ? AND "
            "checkpoint_id = ?",
            [out["eval_id"], trained[1]],
        ).fetchall()
    }
    assert rows[("corruptions", "error", "fog", 5, None)] == pytest.approx(out["corruption_errors"]["fog"]["5"])
    assert rows[("corruptions", "mce", None, None, None)] == pytest.approx(out["mce"])
    fgsm = {round(e, 6): v for (k, m, c, s, e), v in rows.items() if k == "fgsm"}
    assert fgsm == {round(float(k), 6): pytest.approx(v) for k, v in out["fgsm"].items()}


def test_bad_options():
    with pytest.raises(UsageError):
        parse_severities("0-7")
    with pytest.raises(UsageError):
        parse_epsilons("eight")
    assert parse_severities("1-3") == (1, 2, 3) and parse_epsilons("1/255,0.5") == (1 / 255, 0.5)
