"""Students sized to the pool: the models the loop trains when `student_models` is not given.

Noisy Student trains students equal to or larger than their teacher, and the paper's own
iterations grew once and then kept the size (an EfficientNet-B7 teacher taught an L2 student,
which taught L2 students after it). A larger model needs the images to fit it, so here the first
student steps one size up its teacher's family (a ladder below) when the pool holds at least
GROW_RATIO unlabeled images per labeled one, and every later student is the first student's
model. With a smaller pool, a teacher on no ladder, or `init_from_teacher` (weights are copied
between equal models only), every student is the teacher's model.

Measured (docs/benchmarks.md, "Ablations"): on photo patches with 20 labels per class and a pool
6.6 times that, a test_resnet first student lost to its teacher on every seed while a resnet10t one
gained; a resnet10t first student gained on every kind and seed measured (pools 6.6 to 80 times
the labels). Below 5 times nothing was measured, so the students stay equal there.
"""
from __future__ import annotations

from dataclasses import dataclass

GROW_RATIO = 5  # unlabeled images per labeled one before the first student grows (measured from 6.6x to 80x)

# families of timm models, smallest first: a student grows one step along its teacher's
LADDERS: dict[str, tuple[str, ...]] = {
    "resnet": ("test_resnet", "resnet10t", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152"),
    "efficientnet": ("test_efficientnet", *(f"efficientnet_b{i}" for i in range(8))),
    "convnext": ("test_convnext", "convnext_atto", "convnext_femto", "convnext_pico", "convnext_nano",
                 "convnext_tiny", "convnext_small", "convnext_base", "convnext_large"),
    "vit": ("test_vit", "vit_tiny_patch16_224", "vit_small_patch16_224", "vit_base_patch16_224",
            "vit_large_patch16_224"),
    "regnetx": ("regnetx_002", "regnetx_004", "regnetx_006", "regnetx_008", "regnetx_016", "regnetx_032"),
    "mobilenetv3": ("mobilenetv3_small_050", "mobilenetv3_small_075", "mobilenetv3_small_100",
                    "mobilenetv3_large_075", "mobilenetv3_large_100"),
}


@dataclass(frozen=True)
class StudentSizing:
    """The student model of every round, and the sentence that says why."""

    model: str  # every student's model
    reason: str


def next_size(model: str) -> str | None:
    """The next larger model of `model`'s ladder; None at the top or off every ladder."""
    for ladder in LADDERS.values():
        if model in ladder:
            i = ladder.index(model)
            return ladder[i + 1] if i + 1 < len(ladder) else None
    return None


def size_students(teacher: str, labeled: int, pool: int, init_from_teacher: bool = False) -> StudentSizing:
    """Every student's model, from the teacher's and the pool's size relative to the labeled images."""
    larger = next_size(teacher)
    ratio = pool / labeled if labeled else 0.0
    if init_from_teacher:
        return StudentSizing(teacher, "students start from their teacher's weights, so they are its model")
    if larger is None:
        return StudentSizing(teacher, f"{teacher} has no larger model on plabel's ladders: students are equal")
    if ratio < GROW_RATIO:
        return StudentSizing(teacher, f"the pool holds {ratio:.1f} unlabeled images per labeled one (under "
                                      f"{GROW_RATIO}): students are the teacher's model")
    return StudentSizing(larger, f"the pool holds {ratio:.0f} unlabeled images per labeled one (at least "
                                 f"{GROW_RATIO}): students are one size up from the teacher ({teacher} -> {larger})")
