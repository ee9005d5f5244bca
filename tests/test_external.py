"""import-predictions: timm inference.py outputs (written as timm writes them) and a generic file."""
import json
import os

import numpy as np
import pandas as pd
import pytest

from plabel.errors import UsageError
from plabel.external import ImportOptions, import_predictions
from tests.helpers import tree_digest


@pytest.fixture(scope="module")
def base(tmp_path_factory, mnist_folders):
    from plabel.ingest import IngestOptions, ingest
    from plabel.workspace import init_workspace

    ws = init_workspace(tmp_path_factory.mktemp("external") / "ws")
    ingest(ws, IngestOptions(source=mnist_folders.train, split="train", workers=1))
    ingest(ws, IngestOptions(source=mnist_folders.val, split="val", workers=1))
    ingest(ws, IngestOptions(source=mnist_folders.unlabeled, split="unlabeled", withheld_labels=True, workers=1))
    return ws, mnist_folders


@pytest.fixture
def ws(base, tmp_path):
    import shutil

    from plabel.workspace import open_workspace

    copy = open_workspace(shutil.copytree(base[0].root, tmp_path / "ws"))
    copy.sync_catalog()
    return copy


def pool_files(folders, split="unlabeled") -> list:
    root = getattr(folders, split)
    return sorted(root.rglob("*.png")), root


def timm_frame(files, root, probs, topk, fullname=True, include_index=True, labels=None) -> pd.DataFrame:
    """The DataFrame timm's inference.py builds: filenames, then index, label, prob (numpy arrays)."""
    order = np.argsort(-probs, axis=1, kind="stable")[:, :topk]
    top = np.take_along_axis(probs, order, axis=1).astype(np.float32)
    names = [os.path.relpath(f, root) if fullname else f.name for f in files]
    data = {"filename": names}
    if include_index:
        data["index"] = list(order) if topk > 1 else list(order.squeeze(-1))
    if labels is not None:
        lab = np.asarray(labels, dtype=object)[order]
        data["label"] = list(lab) if topk > 1 else list(lab.squeeze(-1))
    data["prob"] = list(top) if topk > 1 else list(top.squeeze(-1))
    return pd.DataFrame(data)


def save(df: pd.DataFrame, path, fmt: str) -> None:
    """timm's save_results, format by format."""
    np.set_printoptions(threshold=np.inf)
    try:
        if fmt == "parquet":
            df.set_index("filename").to_parquet(path)
        elif fmt == "json":
            df.set_index("filename").to_json(path, indent=4, orient="index")
        elif fmt == "json-records":
            df.to_json(path, lines=True, orient="records")
        elif fmt == "json-split":
            df.to_json(path, indent=4, orient="split", index=False)
        else:
            df.to_csv(path, index=False)
    finally:
        np.set_printoptions(threshold=1000)


EXT = {"csv": ".csv", "parquet": ".parquet", "json": ".json", "json-split": ".json", "json-records": ".jsonl"}


def dirichlet(n: int, k: int = 10, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).dirichlet(np.full(k, 0.3), n)


@pytest.mark.parametrize("fmt", list(EXT))
def test_timm_inference_outputs_import_as_they_are(ws, base, tmp_path, fmt):
    files, root = pool_files(base[1])
    probs = dirichlet(len(files))
    out = tmp_path / f"resnet-224{EXT[fmt]}"
    save(timm_frame(files, root, probs, topk=5), out, fmt)
    r = import_predictions(ws, ImportOptions(file=out, round=0, model_name="resnet50.a1_in1k", root=str(root)))
    assert r.rows == len(files) and r.splits == {"unlabeled": len(files)} and r.skipped_unknown == 0
    got = {p: (c, conf, idx) for p, c, conf, idx in ws.rows(
        "SELECT i.path, p.class_id, p.confidence, p.index FROM predictions p JOIN images i USING (image_id) "
        "WHERE p.round = 0 AND i.split = 'unlabeled'")}
    for f, row in zip(files, probs, strict=True):
        c, conf, idx = got[ws.store_path(f)]
        assert c == int(row.argmax()) and conf == pytest.approx(row.max(), abs=1e-6)
        assert idx == np.argsort(-row, kind="stable")[:5].tolist()
    kind, model, cfg = ws.rows("SELECT kind, model, config FROM checkpoints WHERE checkpoint_id = ?",
                               [r.checkpoint_id])[0]
    assert (kind, model) == ("external", "resnet50.a1_in1k")
    assert __import__("hashlib").sha256(out.read_bytes()).hexdigest().startswith(json.loads(cfg)["file_hash"])


def test_top1_with_labels_and_bare_file_names(ws, base, tmp_path):
    """timm's defaults: --topk 1, basenames, labels by name (no --include-index)."""
    files, root = pool_files(base[1])
    probs = dirichlet(len(files), seed=1)
    names = [str(i) for i in range(10)]  # the workspace's classes are the digits' folder names
    save(timm_frame(files, root, probs, topk=1, fullname=False, include_index=False, labels=names),
         tmp_path / "p.csv", "csv")
    r = import_predictions(ws, ImportOptions(file=tmp_path / "p.csv", round=0, model_name="m"))
    assert r.rows == len(files)
    margins = ws.rows("SELECT min(margin), max(margin), max(array_length(index)) FROM predictions")[0]
    assert margins[2] == 1 and 0 <= margins[0] <= margins[1] <= 1


def test_generic_logits_by_content_id_with_val_then_select_and_train(ws, base, tmp_path):
    from plabel.selection import SelectOptions, select
    from plabel.train import TrainOptions, train
    from tests.test_train import FAST

    rows = ws.rows("SELECT image_id, split, coalesce(label, true_label) FROM images "
                   "WHERE split IN ('unlabeled', 'val') ORDER BY image_id")
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(len(rows), 10))
    for k, (_, _, label) in enumerate(rows):
        logits[k, int(label)] += 4.0  # a teacher that is mostly right
    pd.DataFrame({"image_id": [r[0] for r in rows], "logits": list(logits)}).to_parquet(tmp_path / "g.parquet")
    r = import_predictions(ws, ImportOptions(file=tmp_path / "g.parquet", round=0, model_name="served-model"))
    assert r.splits == {"unlabeled": 200, "val": 100}
    e = np.exp(logits - logits.max(1, keepdims=True))
    p = e / e.sum(1, keepdims=True)
    ent = ws.rows("SELECT image_id, entropy FROM predictions ORDER BY image_id")
    assert [x for _, x in ent] == pytest.approx((-(p * np.log(p)).sum(1)).tolist(), abs=1e-4)
    s = select(ws, SelectOptions(round=0, threshold="auto", target_precision=0.8))
    assert s.checkpoint_id == r.checkpoint_id and s.n_pseudo > 0
    with pytest.raises(UsageError, match="no checkpoint in round 0"):  # no weights: no teacher to inherit
        train(ws, TrainOptions(round=1, epochs=1, **{**FAST, "model": None}))
    t = train(ws, TrainOptions(round=1, epochs=1, **FAST))
    assert t.checkpoint_id
    assert ws.rows("SELECT parent_id FROM checkpoints WHERE checkpoint_id = ?", [t.checkpoint_id])[0][0] is None


def _bad(ws, tmp_path, frame: pd.DataFrame, message: str, **kw):
    frame.to_parquet(tmp_path / "bad.parquet")
    before = tree_digest(ws.root)
    with pytest.raises(UsageError, match=message):
        import_predictions(ws, ImportOptions(file=tmp_path / "bad.parquet", round=0, model_name="m", **kw))
    assert tree_digest(ws.root) == before


def test_bad_files_write_nothing(ws, base, tmp_path):
    files, root = pool_files(base[1])
    ids = [i for (i,) in ws.rows("SELECT image_id FROM images WHERE split = 'unlabeled' ORDER BY image_id")]
    probs = list(dirichlet(3))
    _bad(ws, tmp_path, pd.DataFrame({"path": ["nope/x.png"] * 1, "probs": probs[:1]}), "name no image",
         root=str(root))
    _bad(ws, tmp_path, pd.DataFrame({"image_id": ids[:2], "probs": [p[:7] for p in probs[:2]]}),
         "7 outputs but the workspace has 10 classes")
    nan = probs[0].copy()
    nan[3] = np.nan
    _bad(ws, tmp_path, pd.DataFrame({"image_id": ids[:2], "probs": [nan, probs[1]]}), "NaN or infinite")
    _bad(ws, tmp_path, pd.DataFrame({"image_id": [ids[0], ids[0]], "probs": probs[:2]}), "are the same image")
    _bad(ws, tmp_path, pd.DataFrame({"image_id": ids[:1], "probs": [probs[0] * 3]}), "are these logits")
    _bad(ws, tmp_path, pd.DataFrame({"image_id": ids[:1], "index": [[0, 12]], "prob": [[0.5, 0.4]]}),
         "outside the workspace's 10 classes")
    from plabel.ingest import IngestOptions, ingest
    from tests.helpers import write_pngs

    twin = write_pngs(tmp_path / "extra", 1, seed=5)[0]
    twin.rename(tmp_path / "extra" / files[0].name)  # another image under the same file name
    ingest(ws, IngestOptions(source=tmp_path / "extra", split="unlabeled", workers=1))
    _bad(ws, tmp_path, pd.DataFrame({"filename": [files[0].name], "probs": probs[:1]}), "match more than one image")
    _bad(ws, tmp_path, pd.DataFrame({"image_id": ids[:1], "score": [0.4]}), "no output column")
    # --skip-unknown leaves the unknown rows out instead
    pd.DataFrame({"image_id": [ids[0], "f" * 32], "probs": probs[:2]}).to_parquet(tmp_path / "some.parquet")
    some = tmp_path / "some.parquet"
    r = import_predictions(ws, ImportOptions(file=some, round=0, model_name="m", skip_unknown=True))
    assert r.rows == 1 and r.skipped_unknown == 1
    before = tree_digest(ws.root)  # the same file again (a rerun after a kill): done, nothing written
    assert import_predictions(ws, ImportOptions(file=tmp_path / "some.parquet", round=0, model_name="m",
                                                                         skip_unknown=True)).already_imported
    assert tree_digest(ws.root) == before
    with pytest.raises(UsageError, match="already has predictions"):  # another teacher's
        import_predictions(ws, ImportOptions(file=some, round=0, model_name="n", skip_unknown=True))
