"""train and eval: the bundled timm trainer and its evaluation."""
from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from plabel.cli import _options as opt
from plabel.cli._output import emitted, info, print_table
from plabel.cli.app import command

TRAIN = "Training"
NOISE = "Noise (on by default for students, round > 0)"
LOOP = "Optimisation"
RUNTIME = "Runtime"
Train, Noise, Loop, Runtime = (partial(opt.option, rich_help_panel=p) for p in (TRAIN, NOISE, LOOP, RUNTIME))


@command()
def train(
    round_: opt.Round,
    model: Annotated[
        str | None,
        typer.Option(
            help=(
                "timm model name (default for a student: the teacher's, with its image size, channels, "
                "flips and crops)."
            ),
            rich_help_panel=TRAIN,
        ),
    ] = None,
    manifest: Annotated[
        Path | None, Train("Manifest Parquet file (default: labeled images for round 0, else round R-1's manifest).")
    ] = None,
    epochs: Annotated[int, Train("Passes over the manifest (copies included).", min=1)] = 10,
    img_size: Annotated[int | None, Train("Input size in pixels (default: the model's).")] = None,
    in_chans: Annotated[
        int | None, Train("3 (grayscale images are converted to RGB) or 1 (default: the teacher's, else 3).")
    ] = None,
    batch_size: Annotated[int, Train("Labeled images per step.", min=1)] = 64,
    unlabeled_ratio: Annotated[float, Train("Pseudo-labeled images per labeled image in each step.")] = 1.0,
    pretrained: Annotated[
        bool, Train("Start from timm's pretrained weights (needs network access).", "--pretrained")
    ] = False,
    init_from: Annotated[str | None, Train("Start from this checkpoint's weights (e.g. the teacher).")] = None,
    finetune_from: Annotated[
        str | None,
        typer.Option(
            help="FixRes-style fine-tune of this checkpoint on unaugmented labeled images (use a larger --img-size).",
            rich_help_panel=TRAIN,
        ),
    ] = None,
    freeze_stages: Annotated[int, Train("With --finetune-from: freeze the first K stages (stem = 1).")] = 0,
    skip_missing: Annotated[
        bool, Train("Skip and count manifest rows whose file is gone or unreadable.", "--skip-missing")
    ] = False,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume/--no-resume",
            help="Continue a killed run of the same options from its last epoch, or start it over.",
            rich_help_panel=TRAIN,
        ),
    ] = True,
    noise: Annotated[
        bool | None,
        typer.Option(
            "--noise/--no-noise",
            help="Student noise: RandAugment, dropout, stochastic depth.",
            rich_help_panel=NOISE,
            show_default=False,
        ),
    ] = None,
    randaug: Annotated[
        str | None, Noise("timm RandAugment string, e.g. rand-m9-n2-mstd0.5 (overrides the next two).")
    ] = None,
    randaug_magnitude: Annotated[
        int, Noise("RandAugment magnitude on timm's 0-10 scale (the m in rand-m9-n2-mstd0.5).")
    ] = 9,
    randaug_ops: Annotated[int, Noise("RandAugment operations applied per image.")] = 2,
    drop_rate: Annotated[float | None, Noise("Head dropout (default 0.5 noised, else 0).")] = None,
    drop_path_rate: Annotated[float | None, Noise("Stochastic depth (default 0.2 noised, else 0).")] = None,
    label_smoothing: Annotated[float, Noise("For hard targets; soft targets use soft cross-entropy.")] = 0.1,
    hflip: Annotated[float | None, Noise("Horizontal flip probability (default: the teacher's, else 0.5).")] = None,
    crop_scale: Annotated[
        float | None, Noise("Smallest area kept by the random resized crop (default: the teacher's, else 0.08).")
    ] = None,
    opt_name: Annotated[str, Loop("adamw or sgd (Nesterov).", "--opt")] = "adamw",
    lr: Annotated[float, Loop("Peak learning rate (after warmup).")] = 1e-3,
    weight_decay: Annotated[float, Loop("Weight decay (decoupled for AdamW).")] = 0.05,
    momentum: Annotated[float, Loop("SGD momentum (Nesterov).")] = 0.9,
    warmup_epochs: Annotated[float, Loop("Linear warmup, in epochs (fractions allowed).")] = 1.0,
    min_lr: Annotated[float, Loop("Learning rate at the end of the cosine schedule.")] = 1e-6,
    ema_decay: Annotated[float, Loop("EMA of weights (0: off).")] = 0.0,
    clip_grad: Annotated[float | None, Loop("Clip the gradient norm.")] = None,
    seed: opt.Seed = 0,
    workers: Annotated[int, Runtime("DataLoader worker processes.", min=0)] = 2,
    device: Annotated[str, Runtime("auto, cpu, cuda, cuda:1 ...")] = "auto",
    amp: Annotated[bool, Runtime("bfloat16 autocast on CUDA.", "--amp/--no-amp")] = True,
    channels_last: Annotated[bool, Runtime("On CUDA.", "--channels-last/--no-channels-last")] = True,
    workspace: opt.Workspace = None,
    json_output: opt.Json = False,
):
    """Train round R's model: the teacher (round 0) or a noised student on a manifest."""
    from plabel.train import TrainOptions
    from plabel.train import train as run

    options = TrainOptions(
        round=round_, model=model, manifest=str(manifest) if manifest else None, epochs=epochs, img_size=img_size,
        in_chans=in_chans, batch_size=batch_size, unlabeled_ratio=unlabeled_ratio, opt=opt_name, lr=lr,
        weight_decay=weight_decay, momentum=momentum, warmup_epochs=warmup_epochs, min_lr=min_lr, ema_decay=ema_decay,
        clip_grad=clip_grad, label_smoothing=label_smoothing, noise=noise, randaug=randaug,
        randaug_magnitude=randaug_magnitude, randaug_ops=randaug_ops, drop_rate=drop_rate,
        drop_path_rate=drop_path_rate, hflip=hflip, crop_scale=crop_scale, pretrained=pretrained, init_from=init_from,
        finetune_from=finetune_from, freeze_stages=freeze_stages, skip_missing=skip_missing, seed=seed, workers=workers,
        device=device, amp=amp, channels_last=channels_last,
    )
    r = run(opt.open_ws(workspace), options, progress=opt.progress(json_output), resume=resume)
    if emitted(r, json_output):
        return
    if r.already_trained:
        info(f"Already trained: checkpoint {r.checkpoint_id} (round {r.round}) has these options and data.")
        return
    if r.resumed_from_epoch is not None:
        info(f"Resumed at epoch {r.resumed_from_epoch + 1}.")
    print_table(
        f"Round {r.round} {r.kind}",
        ["epoch", "loss", "lab_loss", "unl_loss", "lr", "img/s", "val top1", "val top5"],
        [
            [
                h["epoch"] + 1,
                h["loss"],
                h["lab_loss"],
                h["unl_loss"],
                h["lr"],
                round(h["images_per_s"]),
                h["val_top1"],
                h["val_top5"],
            ]
            for h in r.history
        ],
    )
    if r.skipped_missing:
        info(f"Skipped {r.skipped_missing} missing or unreadable images.")
    info(f"Checkpoint {r.checkpoint_id} (round {r.round}) written in {r.seconds:.1f}s.")


@command(name="eval")
def eval_(
    checkpoint: Annotated[str, opt.option("Checkpoint id (or prefix), or latest.")] = "latest",
    split: Annotated[str, opt.option("val or test.")] = "test",
    robustness: Annotated[
        str | None, opt.option("Robustness instead of clean accuracy: corruptions, flips, fgsm, pgd (comma-separated).")
    ] = None,
    severities: Annotated[str, opt.option("Corruption severities: 1-5 or a list like 1,3,5.")] = "1-5",
    corruptions: Annotated[str | None, opt.option("Corruptions to apply (default: all twelve).")] = None,
    perturbations: Annotated[
        str | None, opt.option("Perturbation sequences for flips (default: translate, brightness, gaussian_noise).")
    ] = None,
    epsilon: Annotated[str, opt.option("Attack budgets in pixel units.")] = "1/255,2/255,4/255,8/255",
    steps: Annotated[int, opt.option("PGD steps.", min=1)] = 10,
    reference: Annotated[
        str | None, opt.option("Reference checkpoint of mCE and mFR (default: the round-0 teacher).")
    ] = None,
    limit: Annotated[int | None, opt.option("Evaluate the first N images only (a quick look).", min=1)] = None,
    seed: opt.Seed = 0,
    batch_size: Annotated[int, opt.option("Images per forward pass.", min=1)] = 256,
    workers: Annotated[int, opt.option("DataLoader worker processes decoding images.", min=0)] = 0,
    device: Annotated[str, opt.option("auto, cpu, cuda, cuda:1 ...")] = "auto",
    workspace: opt.Workspace = None,
    json_output: opt.Json = False,
):
    """Accuracy of a checkpoint on a split (EMA weights when kept), or its robustness; into evals."""
    ws = opt.open_ws(workspace)
    if robustness:
        from plabel.robustness.measure import RobustnessOptions, parse_epsilons, parse_severities

        options = RobustnessOptions(
            kinds=_items(robustness), checkpoint=checkpoint, split=split, severities=parse_severities(severities),
            corruptions=_items(corruptions), perturbations=_items(perturbations), epsilons=parse_epsilons(epsilon),
            steps=steps, reference=reference, limit=limit, seed=seed, batch_size=batch_size, workers=workers,
            device=device,
        )
        return _robustness(ws, options, json_output)
    from plabel.evaluate import EvalOptions, evaluate

    settings = EvalOptions(batch_size=batch_size, workers=workers, device=device, limit=limit)
    r = evaluate(ws, checkpoint, split, settings, progress=opt.progress(json_output))
    if emitted(r, json_output):
        return
    info(
        f"Checkpoint {r.checkpoint_id} (round {r.round}) on {r.split}: top-1 {r.top1:.2f}%, top-5 "
        f"{r.top5:.2f}% ({r.n} images)"
    )
    print_table("Per-class top-1", ["class", "top1 %"], [[c, round(v, 2)] for c, v in r.per_class.items()])


def _items(text: str | None) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip()) if text else ()


def _robustness(ws, options, json_output: bool) -> None:
    from plabel.robustness.measure import evaluate_robustness

    r = evaluate_robustness(ws, options, progress=opt.progress(json_output))
    if emitted(r, json_output):
        return
    info(
        f"Checkpoint {r.checkpoint_id} (round {r.round}) on {r.n} {options.split} images, reference {r.reference_id} "
        f"({r.images_per_s:,.0f} images/s)"
    )
    if r.mce is not None:
        print_table(
            f"Corruptions (clean error {r.clean_error:.2f}%): mCE {r.mce:.1f}, relative mCE {r.relative_mce:.1f}",
            ["corruption", *[f"s{s}" for s in options.severities], "CE", "rel. CE"],
            [
                [c, *[round(e[s], 2) for s in options.severities], round(r.ce[c], 1), round(r.relative_ce[c], 1)]
                for c, e in r.corruption_errors.items()
            ],
        )
    if r.mfr is not None:
        print_table(
            f"Perturbation flips: mFR {r.mfr:.1f}",
            ["perturbation", "flip rate %", "FR"],
            [[p, round(v, 2), round(r.fr[p], 1)] for p, v in r.flip_rates.items()],
        )
    for kind in ("fgsm", "pgd"):
        if getattr(r, kind):
            print_table(
                f"{kind.upper()} accuracy",
                ["epsilon", "accuracy %"],
                [[f"{e * 255:.1f}/255", round(a, 2)] for e, a in getattr(r, kind).items()],
            )
