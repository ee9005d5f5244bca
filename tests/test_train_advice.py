"""Training defaults from the images' size, and the too-few-steps warning."""
import pytest

from plabel.train.advice import MIN_STEPS, crop_scale_for, steps_note


def test_crop_scale_magnifies_the_smallest_crop_at_most_twice():
    assert crop_scale_for(400, 224) == pytest.approx(0.08)  # ImageNet: timm's own default
    assert crop_scale_for(28, 32) == pytest.approx((32 / 56) ** 2)  # MNIST fed at 32 px: 0.33
    assert crop_scale_for(1000, 224) == 0.08  # never below timm's floor
    assert crop_scale_for(16, 64) == 1.0  # upsampled images: no random crop at all


def test_few_steps_are_said_with_what_to_change():
    assert steps_note(30, 7, 32) is None  # the demo's teacher: 210 steps
    note = steps_note(8, 5, 64)
    assert note and "only 40 optimizer steps" in note and f"`epochs` to {-(-MIN_STEPS // 5)}" in note


def test_a_run_without_a_crop_scale_gets_one_from_the_images(tmp_path, mnist_folders):
    from plabel import checkpoints
    from plabel.train import TrainOptions, train
    from tests.test_train import FAST, make_ws

    ws = make_ws(tmp_path / "ws", mnist_folders)
    options = {k: v for k, v in FAST.items() if k != "crop_scale"}
    r = train(ws, TrainOptions(round=0, epochs=1, **options))
    expected = round(crop_scale_for(28, 32), 3)  # MNIST digits are 28 px
    assert any(f"crop scale {expected:.2f}" in n for n in r.notes)
    assert any("only 7 optimizer steps" in n for n in r.notes)  # 200 labeled images, batch 32, one epoch
    assert checkpoints.find(ws, r.checkpoint_id).config["train"]["crop_scale"] == pytest.approx(expected)


@pytest.fixture(scope="module")
def planning_ws(tmp_path_factory, mnist_folders):
    """A workspace that only plans runs (nothing trains in it), shared by the epochs-auto tests."""
    from tests.test_train import make_ws

    return make_ws(tmp_path_factory.mktemp("advice") / "ws", mnist_folders)


def test_epochs_auto_gives_enough_steps_and_is_recorded_as_the_count(planning_ws):
    from plabel.train import TrainOptions
    from plabel.train.advice import AUTO_MIN_EPOCHS, epochs_for
    from plabel.train.plan import plan_run
    from tests.test_train import FAST

    ws = planning_ws
    small = plan_run(ws, TrainOptions(round=0, epochs="auto", **FAST))  # 200 labeled images, batch 32: 7 steps
    assert small.epochs == epochs_for(7) == -(-MIN_STEPS // 7) and small.epochs * 7 >= MIN_STEPS
    assert any(n.startswith(f"epochs auto: {small.epochs} epochs of 7 steps") for n in small.notes)
    # the run id is the resolved count's: the same run as asking for that count
    assert small.run_id == plan_run(ws, TrainOptions(round=0, epochs=small.epochs, **FAST)).run_id
    many = plan_run(ws, TrainOptions(round=0, epochs="auto", **dict(FAST, batch_size=2)))  # 100 steps an epoch
    assert many.epochs == AUTO_MIN_EPOCHS


def test_epochs_auto_gives_a_student_more_passes(planning_ws, tmp_path):
    """A manifest with pseudo labels is a student's: 20 passes at least, where the same rows labeled take 10."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from plabel.manifest import labeled_manifest
    from plabel.train import TrainOptions
    from plabel.train.advice import AUTO_MIN_EPOCHS, STUDENT_MIN_EPOCHS, epochs_for
    from plabel.train.plan import plan_run
    from tests.test_train import FAST

    ws = planning_ws
    t = pq.read_table(labeled_manifest(ws))
    origin = ["pseudo" if i % 2 else "labeled" for i in range(t.num_rows)]
    pq.write_table(t.set_column(t.column_names.index("origin"), "origin", pa.array(origin)), tmp_path / "m.parquet")
    options = dict(FAST, batch_size=2)  # ~100 steps an epoch: the passes decide, not the 200 steps
    student = plan_run(ws, TrainOptions(round=0, epochs="auto", manifest=str(tmp_path / "m.parquet"), **options))
    assert student.epochs == STUDENT_MIN_EPOCHS == epochs_for(100, student=True) > AUTO_MIN_EPOCHS
    assert any("at least 20 passes (a student's manifest" in n for n in student.notes)
    assert plan_run(ws, TrainOptions(round=0, epochs="auto", **options)).epochs == AUTO_MIN_EPOCHS


def test_the_loop_trains_with_epochs_auto_unless_told():
    from plabel.run import RunConfig

    assert RunConfig().train_options(0).epochs == "auto"
    assert RunConfig(student={"epochs": 7}).train_options(1).epochs == 7
