"""FGSM and PGD in the model's input space: attacks on pixels in [0, 1], normalised inside.

The attack perturbs the image before the model's mean/std normalisation, so epsilon is in
pixel units (8/255 is eight grey levels) whatever the model's normalisation, and the perturbed
image stays a valid image (clipped to [0, 1]).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


class Normalized(torch.nn.Module):
    """A model taking [0, 1] pixels: (x - mean) / std, then the model."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, model: torch.nn.Module, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.model((x - self.mean) / self.std)
        return out


def _grad(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    x = x.clone().requires_grad_(True)
    loss = F.cross_entropy(model(x), y)
    (g,) = torch.autograd.grad(loss, x)
    return g


def fgsm(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, epsilon: float) -> torch.Tensor:
    """Goodfellow et al. 2015: one step of size epsilon along the sign of the loss gradient."""
    if epsilon == 0:
        return x
    return (x + epsilon * _grad(model, x, y).sign()).clamp(0, 1).detach()


def pgd(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, epsilon: float, steps: int, generator: torch.Generator
) -> torch.Tensor:
    """Madry et al. 2018: a random start in the L-inf ball, `steps` signed steps of 2.5 eps/steps."""
    if epsilon == 0 or steps == 0:
        return x
    alpha = 2.5 * epsilon / steps
    start = (torch.rand(x.shape, generator=generator) * 2 - 1).to(x.device) * epsilon
    adv = (x + start).clamp(0, 1)
    for _ in range(steps):
        adv = adv + alpha * _grad(model, adv, y).sign()
        adv = torch.min(torch.max(adv, x - epsilon), x + epsilon).clamp(0, 1).detach()
    return adv
