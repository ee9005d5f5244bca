"""Training defaults that fit the images, and warnings a run is unlikely to learn.

timm's defaults are ImageNet's: RandomResizedCrop down to 8% of the area, for photos of ~400
pixels fed at 224, magnifies the smallest crop about 2x per side. The same 8% on 32-pixel images
magnifies 3.5x, and little of a digit survives; a new user who trained on 300 digits that way
got 24.5% where the demo's crop reaches 97%. So, unless the user or the teacher set it, the
smallest crop area is chosen to magnify at most 2x (timm's own ImageNet ratio) for the labeled
images' median side at the model's input size, and the run says what it chose.
"""
from __future__ import annotations

import math

MAX_MAGNIFICATION = 2.0  # per side, of the smallest random crop (timm's default on ImageNet)
TIMM_CROP_SCALE = 0.08  # timm's smallest crop area: the floor
MIN_STEPS = 200  # the demo's teacher learns in 210 optimizer steps (30 epochs of 7 steps)
AUTO_MIN_EPOCHS = 10  # --epochs auto on a large manifest: passes enough for the cosine schedule to anneal
# ... on a student's (pseudo labels, noised): the paper trains students longer, and on photo patches
# 20 passes closed 0.63 of the teacher-to-oracle gap where 10 closed 0.48 (docs/benchmarks.md)
STUDENT_MIN_EPOCHS = 20


def crop_scale_for(side: float, input_size: float) -> float:
    """Smallest crop area such that the crop, resized to the input, is magnified <= 2x per side."""
    return float(min(1.0, max(TIMM_CROP_SCALE, (input_size / (MAX_MAGNIFICATION * side)) ** 2)))


def crop_note(scale: float, side: float, input_size: float) -> str:
    return (f"crop scale {scale:.2f} (smallest RandomResizedCrop area) chosen for {side:.0f}-pixel images fed at "
            f"{input_size:.0f} pixels: the smallest crop is magnified at most {MAX_MAGNIFICATION:g}x, as timm's "
            f"{TIMM_CROP_SCALE} is on ImageNet; --crop-scale to choose")


def steps_note(epochs: int, steps_per_epoch: int, batch_size: int) -> str | None:
    """A warning when a run has too few optimizer steps to learn, with what to change."""
    total = epochs * steps_per_epoch
    if total >= MIN_STEPS:
        return None
    need = math.ceil(MIN_STEPS / max(steps_per_epoch, 1))
    return (f"only {total} optimizer steps ({epochs} epochs of {steps_per_epoch} steps of {batch_size} images): a "
            f"network trained from scratch rarely learns in so few (the demo's teacher takes {MIN_STEPS}+); "
            f"raise `epochs` to {need} or more (`epochs` auto), or lower `batch_size`")


def min_passes(student: bool) -> int:
    return STUDENT_MIN_EPOCHS if student else AUTO_MIN_EPOCHS


def epochs_for(steps_per_epoch: int, student: bool = False) -> int:
    """--epochs auto: at least MIN_STEPS optimizer steps, and at least AUTO_MIN_EPOCHS passes (a student:
    STUDENT_MIN_EPOCHS)."""
    return max(min_passes(student), math.ceil(MIN_STEPS / max(steps_per_epoch, 1)))


def epochs_note(epochs: int, steps_per_epoch: int, batch_size: int, student: bool = False) -> str:
    total = epochs * steps_per_epoch
    whose = " (a student's manifest: pseudo labels)" if student else ""
    return (f"epochs auto: {epochs} epochs of {steps_per_epoch} steps of {batch_size} images ({total} optimizer "
            f"steps: at least {MIN_STEPS} and at least {min_passes(student)} passes{whose})")
