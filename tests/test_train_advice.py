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
    assert note and "only 40 optimizer steps" in note and f"--epochs to {-(-MIN_STEPS // 5)}" in note


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
