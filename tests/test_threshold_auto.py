"""--threshold auto: per-class thresholds from val predictions whose correct share is known by construction."""
import math
from pathlib import Path

import numpy as np
import pytest

from plabel.selection.auto import (
    GRID,
    choose,
    enough,
    fixed_sequence,
    grid,
    lower_bound,
    lowest_threshold,
    upper_bound,
)


def test_lower_bound_is_clopper_pearson():
    from scipy.stats import beta

    assert float(lower_bound(18, 20, 0.9)) == pytest.approx(beta.ppf(0.1, 18, 3))
    assert float(lower_bound(0, 20)) == 0.0
    assert float(lower_bound(20, 20, 0.9)) == pytest.approx(0.1 ** (1 / 20))  # all right: (1 - conf)^(1/n)
    assert not enough(21, 0.9) and enough(22, 0.9)  # 0.1^(1/22) = 0.9006


def test_the_fixed_sequence_keeps_the_lowest_threshold_whose_bound_reaches_the_target():
    # 100 predictions at confidences 1.00, 0.99, ...: the top 60 all right, the rest half right
    conf = np.linspace(1, 0.01, 100)
    right = np.r_[np.ones(60, bool), np.arange(40) % 2 == 0]
    t, n, precision, bound = fixed_sequence(conf, right, 0.9, 0.9)
    k = np.cumsum(right)
    expected = max(i for i in range(100) if lower_bound(k[i], i + 1) >= 0.9)
    assert (t, n) == (pytest.approx(conf[expected]), expected + 1)
    assert bound >= 0.9 and precision == pytest.approx(k[expected] / (expected + 1))
    assert fixed_sequence(conf, right, 0.999, 0.9) is None


def test_the_walk_stops_at_the_first_threshold_it_cannot_accept():
    # 40 right at the top, then 10 of which 5 wrong, then 200 right: taking the lowest threshold
    # that passes anywhere would keep everything (229 of 250 right, bound above 0.9); the fixed
    # sequence stops where the wrong stretch pulls the bound under the target
    conf = np.linspace(1, 0.01, 250)
    right = np.r_[np.ones(40, bool), np.arange(10) % 2 == 0, np.ones(200, bool)]
    assert lower_bound(right.sum(), 250) >= 0.9
    t, n, _, bound = fixed_sequence(conf, right, 0.9, 0.9)
    assert 40 <= n < 50 and bound >= 0.9
    k = np.cumsum(right)
    first_fail = min(i for i in range(21, 250) if lower_bound(k[i], i + 1) < 0.9)
    assert n == first_fail  # the last accepted is the one before the first failure
    # one wrong at the top does not end the walk (it starts where one error can pass: 38 at 0.9);
    # two do: the first threshold tested fails, and nothing is accepted
    one_wrong = np.r_[False, right[1:]]
    k1 = np.cumsum(one_wrong)
    first_fail_1 = min(i for i in range(37, 250) if lower_bound(k1[i], i + 1) < 0.9)
    assert fixed_sequence(conf, one_wrong, 0.9, 0.9)[1] == first_fail_1
    assert fixed_sequence(conf, np.r_[False, False, right[2:]], 0.9, 0.9) is None


def test_the_grid_reaches_past_an_early_wrong_stretch_and_auto_takes_the_lower_of_the_two():
    conf = np.linspace(1, 0.01, 250)
    right = np.r_[np.ones(40, bool), np.arange(10) % 2 == 0, np.ones(200, bool)]
    # each procedure at half the error: the walk fails at once (the wrong stretch), the grid's
    # last point (all 250, 245 right) passes at a Bonferroni share of it
    assert fixed_sequence(conf, right, 0.9, 0.95) is None
    assert float(lower_bound(245, 250, 1 - 0.05 / len(GRID))) >= 0.9
    assert grid(conf, right, 0.9, 0.95)[:2] == (pytest.approx(0.01), 250) == lowest_threshold(conf, right, 0.9)[:2]
    # where the walk goes lower than the grid's points, the walk's threshold is taken
    conf, right = np.linspace(1, 0.01, 100), np.r_[np.ones(60, bool), np.arange(40) % 2 == 0]
    walk, points = fixed_sequence(conf, right, 0.9, 0.95), grid(conf, right, 0.9, 0.95)
    assert walk[1] > points[1] and lowest_threshold(conf, right, 0.9) == walk
    # a grid point is tested at 1 - (1 - confidence) / 4: 50 all right pass 0.9 there, 20 do not
    assert grid(np.linspace(1, 0.5, 50), np.ones(50, bool), 0.9, 0.95)[1] == 50
    assert grid(np.linspace(1, 0.5, 20), np.ones(20, bool), 0.9, 0.95) is None
    assert lowest_threshold(conf, right, 0.999) is None


def test_ties_are_kept_together():
    conf = np.array([0.9] * 30 + [0.5] * 10)
    right = np.array([True] * 30 + [True] * 5 + [False] * 5)
    t, n, _, _ = lowest_threshold(conf, right, 0.85)
    assert (t, n) == (0.9, 30)  # 0.5 would keep all ten at 0.5, half of them wrong


def test_classes_with_too_few_val_predictions_take_the_global_threshold():
    rng = np.random.default_rng(0)
    conf_a = rng.uniform(0, 1, 400)
    val = {0: (conf_a, rng.uniform(0, 0.5, 400) < conf_a),  # right above 0.5, then with probability 2 * confidence
           1: (np.array([0.99, 0.98]), np.array([True, True]))}
    out = {c.class_id: c for c in choose(val, [0, 1, 2], target=0.9)}
    assert out[0].source == "class" and out[0].lower_bound >= 0.9 and 0.1 < out[0].threshold < 0.5
    assert out[1].source == "global" and out[2].source == "global"
    pooled = lowest_threshold(np.r_[conf_a, 0.99, 0.98], np.r_[val[0][1], True, True], 0.9)
    assert out[1].threshold == pytest.approx(pooled[0])
    # the evidence recorded is the class's own above that threshold, not the pool's
    assert (out[1].val_support, out[1].val_precision) == (2, 1.0) and out[1].lower_bound < 0.9 <= pooled[3]
    assert (out[2].val_support, out[2].val_precision, out[2].lower_bound) == (0, None, None)


def test_no_threshold_reaching_the_target_keeps_the_most_precise_stretch_or_nothing():
    conf = np.linspace(1, 0, 50)
    right = np.r_[np.ones(8, bool), np.arange(42) % 2 == 0]  # 8 right at the top, then one in two
    (c,) = choose({0: (conf, right)}, [0], target=0.95)
    n = np.arange(1, 51)
    bounds = lower_bound(np.cumsum(right), n)
    assert c.source == "best" and c.val_support == int(np.argmax(bounds)) + 1 == 9  # 8 right + the next right
    assert c.threshold == pytest.approx(conf[8]) and c.lower_bound == pytest.approx(bounds.max())
    assert c.lower_bound < 0.95
    (x,) = choose({0: (conf, right)}, [0], target=0.95, below_target="exclude")
    assert x.source == "none" and x.threshold == math.inf
    (empty,) = choose({0: (conf, np.zeros(50, bool))}, [0], target=0.95)  # nothing right: nothing to keep
    assert empty.source == "none"


# -- through select, on crafted tables whose correct share per threshold is known ------------------
def _auto_ws(tmp_path):
    """Class a: 60 val predictions, right exactly when confidence >= 0.4; class b: 5 val predictions
    (too few to bound alone); class c: none. Unlabeled: 20 per class at confidences 0.05 .. 1.0,
    with withheld labels right for a above 0.6."""
    from plabel.workspace import init_workspace
    from tests.tables import add_classes, add_images, add_predictions, iid

    ws = init_workspace(tmp_path / "ws")
    add_classes(ws, ["a", "b", "c"])
    val_a = [(f"va{i:02d}", 0, 0.2 + 0.8 * i / 59, "a" if 0.2 + 0.8 * i / 59 >= 0.4 else "c") for i in range(60)]
    val_b = [(f"vb{i}", 1, 0.95, "b") for i in range(5)]
    pool = [(f"u{c}{i:02d}", c, (i + 1) / 20) for c in range(3) for i in range(20)]
    truth = {n: ("a" if conf >= 0.6 else "b") if c == 0 else None for n, c, conf in pool}
    add_images(ws, [(iid(n), "val", lab, None) for n, _, _, lab in val_a + val_b] +
               [(iid(n), "unlabeled", None, truth[n]) for n, _, _ in pool])
    add_predictions(ws, 0, [(iid(n), c, p) for n, c, p in pool], 3)
    add_predictions(ws, 0, [(iid(n), c, p) for n, c, p, _ in val_a + val_b], 3, split="val")
    return ws, val_a


def test_select_auto_keeps_the_lowest_threshold_meeting_the_target(tmp_path):
    from plabel.selection import SelectOptions, select

    ws, val_a = _auto_ws(tmp_path)
    r = select(ws, SelectOptions(round=0, threshold="auto", target_precision=0.9, balance="none", below_target="best"))
    by = {c.name: c for c in r.classes}
    conf = np.array([p for _, _, p, _ in val_a])
    expected = lowest_threshold(conf, conf >= 0.4, 0.9)
    assert by["a"].threshold_source == "class" and by["a"].threshold == pytest.approx(expected[0])
    assert by["a"].val_lower_bound >= 0.9 and by["a"].val_precision == pytest.approx(expected[2])
    assert by["b"].threshold_source == "global" and by["c"].threshold_source == "global"
    assert any("too few val predictions" in n for n in r.notes)
    for name in ("b", "c"):  # each global class with its own val evidence above the pooled threshold
        assert by[name].val_support is not None and by[name].val_support < 10
        assert f"{name} (" in next(n for n in r.notes if "too few val predictions" in n)
    kept = {c.name: c.above_threshold for c in r.classes}
    assert kept["a"] == sum(1 for i in range(20) if np.float32((i + 1) / 20) >= np.float32(by["a"].threshold))
    rows = ws.rows("SELECT c.name, s.threshold, s.threshold_source FROM selection_classes s "
                   "JOIN classes c USING (class_id) ORDER BY 1")
    assert rows[0] == ("a", pytest.approx(by["a"].threshold), "class")
    assert ws.rows("SELECT threshold, target_precision FROM selections")[0] == (None, pytest.approx(0.9))


def test_below_target_whole_drops_the_unproven_classes_below_the_target(tmp_path):
    from plabel.selection import SelectOptions, select
    from plabel.selection.guarantee import Share, keep_whole, whole

    ws, _ = _auto_ws(tmp_path)
    r = select(ws, SelectOptions(round=0, threshold="auto", target_precision=0.9, balance="none"))
    by = {c.name: c for c in r.classes}
    assert by["a"].threshold_source == "class"
    # c has no val prediction at all: its precision is a coin toss, which no bound of 0.9 survives
    assert by["c"].threshold_source == "dropped" and by["c"].selected == 0 and by["c"].threshold == math.inf
    # b's 5 val predictions, all right ((5 + 0.5) / 6 = 0.917), put it at the target: kept on the
    # global threshold, although the whole bound stays short of 0.9 with it
    assert by["b"].threshold_source == "global" and by["b"].selected > 0
    assert any(n.startswith("c (no val prediction above it): without a guarantee of their own and below 0.9 on val, "
                            "dropped") for n in r.notes), r.notes
    assert r.precision_lower_bound < 0.9 and r.guarantee == "shifted"  # b's pool is spread, its val all at 0.95
    assert r.expected_precision is not None and r.precision_lower_bound <= r.expected_precision
    kept = [c for c in r.classes if c.copies]
    # the statement is the weighted mean of each kept class's own val evidence above its cutoff
    mean = sum(c.copies * c.expected_precision for c in kept) / sum(c.copies for c in kept)
    assert r.expected_precision == pytest.approx(mean)
    assert "expected precision of the" in r.statement and "not guaranteed" in r.statement
    from plabel.report import write_report

    html = Path(write_report(ws, 0, tmp_path / "report.html").path).read_text()
    assert f"at least {r.precision_lower_bound:.3f} with confidence 0.9" in html
    row = ws.rows("SELECT delta, expected_precision, precision_lower_bound, guarantee FROM selections")[0]
    assert row == (pytest.approx(0.1), pytest.approx(r.expected_precision), pytest.approx(r.precision_lower_bound),
                   r.guarantee)
    # the drops stop where the bound holds: a proven, b 3 of 5 right, d 30 of 30
    evidence = {0: (np.ones(60), np.ones(60, bool)), 1: (np.ones(5), np.arange(5) < 3),
                2: (np.ones(30), np.ones(30, bool))}
    parts = {c: Share(10, 0.5) for c in evidence}
    assert whole(evidence, parts, 0.1)[1] < 0.9 and keep_whole(evidence, parts, 0.9, 0.1, {1, 2}) == [1]
    assert whole(evidence, {0: parts[0], 2: parts[2]}, 0.1)[1] >= 0.9
    # ... and where the next class is at the target by its own evidence, even with the bound short of it
    thin = {0: (np.ones(60), np.ones(60, bool)), 2: (np.ones(4), np.ones(4, bool))}  # (4.5 / 5) = 0.9
    assert whole(thin, {0: parts[0], 2: parts[2]}, 0.1)[1] < 0.9
    assert keep_whole(thin, {0: parts[0], 2: parts[2]}, 0.9, 0.1, {2}) == []
    best = select(ws, SelectOptions(round=0, threshold="auto", target_precision=0.9, balance="none",
                                    below_target="best", dry_run=True))
    assert {c.name: c.threshold_source for c in best.classes}["c"] == "global"
    assert best.precision_lower_bound < 0.9 and best.guarantee in ("below", "shifted")
    # an unknown class widens the bound: the same evidence with a class of no val predictions added
    evidence = {0: (np.ones(40) * 0.9, np.ones(40, bool))}
    alone = whole(evidence, {0: Share(10, 0.5)}, 0.1)
    widened = whole(evidence, {0: Share(10, 0.5), 1: Share(10, 0.5)}, 0.1)
    assert alone[1] > 0.9 > widened[1] and widened[0] < alone[0]


def test_the_shift_check_flags_a_pool_unlike_val_and_not_a_sample_of_the_same():
    from plabel.selection.guarantee import _bin, shifted_classes

    rng = np.random.default_rng(0)
    same = rng.uniform(0.5, 1, 2000)
    val = {0: (same[:60], np.ones(60, bool)), 1: (rng.uniform(0.5, 1, 60), np.ones(60, bool))}
    pool_conf = {0: same[60:], 1: rng.uniform(0.5, 1, 2000) ** 0.2}  # class 1's pool sits near 1.0
    hist = {}
    for c, conf in pool_conf.items():
        for x in conf:
            hist[(c, _bin(x, 0.5))] = hist.get((c, _bin(x, 0.5)), 0) + 1
    p = shifted_classes(val, [(c, b, k) for (c, b), k in hist.items()], {0: 0.5, 1: 0.5}, 0.1)
    assert p[0] > 0.1 > 0.001 > p[1]


def test_select_auto_without_val_predictions_says_how(tmp_path):
    from plabel.errors import UsageError
    from plabel.selection import SelectOptions, select
    from plabel.workspace import init_workspace
    from tests.tables import add_classes, add_images, add_predictions, iid

    ws = init_workspace(tmp_path / "ws")
    add_classes(ws, ["a", "b"])
    add_images(ws, [(iid("u1"), "unlabeled", None, None)])
    add_predictions(ws, 0, [(iid("u1"), 0, 0.9)], 2)
    with pytest.raises(UsageError, match="infer --round 0 --split val"):
        select(ws, SelectOptions(round=0, threshold="auto"))


def test_what_if_counts_precision_and_truth(tmp_path):
    from plabel.selection import SelectOptions, threshold_what_if

    ws, val_a = _auto_ws(tmp_path)
    rows = threshold_what_if(ws, SelectOptions(round=0), grid=(0.3, 0.6, 0.8))
    a = {r["threshold"]: r for r in rows if r["class"] == "a"}
    assert a[0.6]["images"] == 9 and a[0.3]["images"] == 15  # (i + 1) / 20 >= t in float32
    assert a[0.6]["true_precision"] == 1.0 and a[0.3]["true_precision"] == pytest.approx(9 / 15)
    n06 = sum(1 for _, _, p, _ in val_a if np.float32(p) >= np.float32(0.6))
    assert a[0.6]["val_images"] == n06 and a[0.6]["val_precision"] == 1.0
    assert a[0.3]["val_precision"] < 1.0 and a[0.3]["val_lower_bound"] < a[0.3]["val_precision"]
    c = [r for r in rows if r["class"] == "c"]
    assert all(r["val_images"] == 0 and r["val_precision"] is None and r["true_precision"] is None for r in c)


def test_run_accepts_auto_and_a_target_precision(tmp_path):
    from plabel.errors import UsageError
    from plabel.run import load_config
    from plabel.workspace import init_workspace

    ws = init_workspace(tmp_path / "ws")
    c = load_config(ws, overrides=['select.threshold="auto"', "select.target_precision=0.8"])
    o = c.select_options(1)
    assert (o.threshold, o.target_precision) == ("auto", 0.8)
    with pytest.raises(UsageError, match="`threshold` must be in"):
        load_config(ws, overrides=['select.threshold="high"'])
    with pytest.raises(UsageError, match="`target_precision`"):
        load_config(ws, overrides=['select.threshold="auto"', "select.target_precision=1.5"])


def test_a_class_that_cannot_bound_alone_takes_the_global_threshold_unless_seen_worse():
    rng = np.random.default_rng(1)
    good = rng.uniform(0.5, 1, 500)
    val = {
        0: (good, np.ones(500, bool)),  # pooled evidence: a global threshold exists
        # 30 predictions, one wrong at the top: no bound of 0.9 alone, but 29/30 right above any threshold
        1: (np.linspace(0.95, 0.6, 30), np.r_[False, np.ones(29, bool)]),
        # 40 predictions, right only at random: shown below the target at the global threshold
        2: (np.linspace(0.95, 0.6, 40), np.arange(40) % 2 == 0),
        # 12 predictions, 10 right: 0.83 is below the target, but 12 images cannot show it
        3: (np.linspace(0.95, 0.6, 12), np.r_[np.ones(10, bool), False, False]),
    }
    out = {c.class_id: c for c in choose(val, [0, 1, 2, 3], target=0.9)}
    assert out[0].source == "class"
    assert out[1].source == "global" and np.isfinite(out[1].threshold)
    assert out[2].source == "best" and out[2].lower_bound < 0.9  # its most precise stretch, said as such
    strict = {c.class_id: c for c in choose(val, [0, 1, 2, 3], target=0.9, below_target="exclude")}
    assert strict[2].source == "none" and strict[2].threshold == math.inf
    assert upper_bound(10, 12) >= 0.9 > upper_bound(20, 40)
    # at the global threshold it keeps all 12, 10 right ((10 + 0.5) / 13 = 0.81): its own 10 right
    # at the top ((10 + 0.5) / 11 = 0.95) are at the target, so its most precise stretch is taken
    assert out[1].threshold < val[3][0].min()  # the global threshold keeps every one of class 3's predictions
    assert out[3].source == "best" and out[3].threshold == pytest.approx(val[3][0][9])
    assert (out[3].val_support, out[3].val_precision) == (10, 1.0)
    # without its own stretch (exclude), the global threshold, with the class's own evidence above it
    assert strict[3].source == "global" and strict[3].threshold == out[1].threshold
    above = val[3][0] >= strict[3].threshold
    assert strict[3].val_support == above.sum() and strict[3].val_precision == pytest.approx(val[3][1][above].mean())


def test_upper_bound_is_clopper_pearson():
    # nothing right in n: the bound solves (1 - p)^n = 1 - confidence
    assert upper_bound(0, 10) == pytest.approx(1 - 0.1 ** (1 / 10))
    assert upper_bound(10, 10) == 1.0
    assert upper_bound(np.array([5, 50]), np.array([10, 100])).tolist() == pytest.approx(
        [1 - lower_bound(5, 10), 1 - lower_bound(50, 100)])  # symmetric with the lower bound


def test_drift_and_rounds_after_an_auto_selection(tmp_path, cli):
    """The drift view reads each class's threshold; the CLI names auto instead of a number."""
    from plabel.selection import SelectOptions, select
    from tests.tables import add_predictions, iid

    ws, _ = _auto_ws(tmp_path)
    r = select(ws, SelectOptions(round=0, threshold="auto", target_precision=0.9, balance="none"))
    pool = [(iid(f"u{c}{i:02d}"), (c + 1) % 3, 0.97) for c in range(3) for i in range(20)]
    add_predictions(ws, 1, pool, 3)
    ws.sync_catalog()
    (row,) = ws.rows("SELECT threshold, above_threshold_a, above_threshold_b FROM drift_summary")
    limits = {c.class_id: c.threshold for c in r.classes}
    expected_b = sum(np.float32(0.97) >= np.float32(limits[(c + 1) % 3]) for c in range(3)) * 20 / 60
    assert row[0] is None and row[2] == pytest.approx(expected_b)
    out = cli("drift", "--from", "0", "--to", "1", "-w", ws.root)
    assert out.exit_code == 0 and "per-class thresholds (auto)" in out.stdout, out.output
    out = cli("rounds", "-w", ws.root)  # the table of rounds names the rule, not a number
    assert out.exit_code == 0, out.output


def test_a_fixed_threshold_selection_id_ignores_the_target_and_auto_depends_on_it(tmp_path):
    from plabel.selection import SelectOptions, select

    ws, _ = _auto_ws(tmp_path)

    def sid(**kw):
        return select(ws, SelectOptions(round=0, balance="none", dry_run=True, **kw)).selection_id

    assert sid(target_precision=0.5) == sid(target_precision=0.9)  # ids made before auto existed still match
    assert sid(threshold="auto", target_precision=0.8) != sid(threshold="auto", target_precision=0.9)
