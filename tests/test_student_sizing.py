"""Students sized to the pool: the rule, its ladders, and the loop that follows it on real images."""
import pytest
import timm

from plabel.datasets import write_split_folders
from plabel.ingest import IngestOptions, ingest
from plabel.run import RunConfig, run, sized_students
from plabel.student_sizing import GROW_RATIO, LADDERS, next_size, size_students
from plabel.workspace import init_workspace


def test_every_ladder_is_timm_models_smallest_first():
    known = set(timm.list_models())
    for family, ladder in LADDERS.items():
        assert set(ladder) <= known, family
        sizes = [sum(p.numel() for p in timm.create_model(m, num_classes=10).parameters()) for m in ladder[:3]]
        assert sizes == sorted(sizes), family
    names = [m for ladder in LADDERS.values() for m in ladder]
    assert len(names) == len(set(names))  # a model belongs to one family, so its next size is one model


def test_next_size_walks_a_ladder_and_stops_at_its_top():
    assert next_size("test_resnet") == "resnet10t" and next_size("resnet10t") == "resnet18"
    assert next_size("resnet152") is None and next_size("no_such_model") is None


def test_the_first_student_grows_only_with_a_pool_large_enough():
    assert size_students("test_resnet", labeled=200, pool=200 * GROW_RATIO).model == "resnet10t"
    small = size_students("test_resnet", labeled=200, pool=200 * GROW_RATIO - 1)
    assert small.model == "test_resnet" and "under 5" in small.reason
    assert size_students("test_resnet", labeled=0, pool=5000).model == "test_resnet"  # no labels: no ratio
    assert size_students("resnet152", labeled=10, pool=10_000).model == "resnet152"
    assert size_students("vit_base_patch16_224", 10, 10_000).model == "vit_large_patch16_224"
    assert size_students("test_byobnet", 10, 10_000).model == "test_byobnet"  # on no ladder
    # init_from_teacher copies weights between equal models only
    assert size_students("test_resnet", 10, 10_000, init_from_teacher=True).model == "test_resnet"


@pytest.mark.slow  # trains a resnet10t: the rule itself is tested above, fast
def test_the_loop_trains_the_sized_student_and_says_why(mnist, tmp_path):
    x, y = mnist
    folders = write_split_folders(tmp_path / "data", x, y, labeled_per_class=2, test_per_class=2,
                                  unlabeled_per_class=2 * GROW_RATIO, val_per_class=0)
    ws = init_workspace(tmp_path / "ws")
    ingest(ws, IngestOptions(source=folders.train, split="train", workers=1))
    ingest(ws, IngestOptions(source=folders.unlabeled, split="unlabeled", withheld_labels=True, workers=1))
    config = RunConfig(rounds=1, teacher_model="test_resnet", img_size=16, eval_splits=(),
                       train={"batch_size": 16, "workers": 0, "epochs": 1}, select={"threshold": 0.0})
    result = run(ws, config)
    models = ws.rows("SELECT round, model FROM checkpoints ORDER BY round")
    assert models == [(0, "test_resnet"), (1, "resnet10t")]
    assert result.notes == ["students sized to the pool: the pool holds 5 unlabeled images per labeled one "
                            "(at least 5): students are one size up from the teacher (test_resnet -> resnet10t)"]
    named = RunConfig(teacher_model="test_resnet", student_models=("test_resnet",))
    assert sized_students(ws, named) == (named, None)  # students the user names are kept
