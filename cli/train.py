"""train: the bundled timm trainer, for the teacher and the noised students."""
from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from plabel.cli import _options as opt
from plabel.cli._output import emitted, info, print_table
from plabel.cli.app import command
from plabel.train.options import TrainOptions

TRAIN = "Training"
NOISE = "Noise (on by default for students, round > 0)"
LOOP = "Optimisation"
RUNTIME = "Runtime"
Train, Noise, Loop, Runtime = (partial(opt.option, rich_help_panel=p) for p in (TRAIN, NOISE, LOOP, RUNTIME))

D = TrainOptions(round=0)  # D: the library's defaults are the CLI's (one owner)

IN_CHANS_HELP = "3 (grayscale images are converted to RGB) or 1 (default: the teacher's, else 3)."
UNLABELED_RATIO_HELP = "Pseudo-labeled images per labeled image in each step."
PRETRAINED_HELP = "Start from timm's pretrained weights (needs network access)."
FREEZE_STAGES_HELP = "With --finetune-from: freeze the first K stages (stem = 1)."
SKIP_MISSING_HELP = "Skip and count manifest rows whose file is gone or unreadable."
RANDAUG_HELP = "timm RandAugment string, e.g. rand-m9-n2-mstd0.5 (overrides the next two)."
RANDAUG_MAGNITUDE_HELP = "RandAugment magnitude on timm's 0-10 scale (the m in rand-m9-n2-mstd0.5)."
LABEL_SMOOTHING_HELP = "For hard targets; soft targets use soft cross-entropy."
HOLDOUT_HELP = (
    "Share of each class's labeled train images kept out of training, to calibrate and pick --threshold auto "
    "on when there is no val split (default: the teacher's, else 0; the same images in every round)."
)
SYNC_BN_HELP = "Under torchrun on CUDA: BatchNorm statistics over the global batch (SyncBatchNorm)."
CROP_SCALE_HELP = (
    "Smallest area kept by the random resized crop (default: the teacher's, else chosen from the images' size: "
    "the smallest crop magnified at most 2x, as timm's 0.08 is on ImageNet)."
)


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
    ] = D.model,
    manifest: Annotated[
        Path | None, Train("Manifest Parquet file (default: labeled images for round 0, else round R-1's manifest).")
    ] = None,
    epochs: Annotated[str, Train(
        "Passes over the manifest (copies included), or auto: at least 200 optimizer steps and 10 passes."
    )] = str(D.epochs),
    img_size: Annotated[int | None, Train("Input size in pixels (default: the model's).")] = D.img_size,
    in_chans: Annotated[int | None, Train(IN_CHANS_HELP)] = D.in_chans,
    batch_size: Annotated[int, Train("Labeled images per step.", min=1)] = D.batch_size,
    unlabeled_ratio: Annotated[float, Train(UNLABELED_RATIO_HELP)] = D.unlabeled_ratio,
    holdout: Annotated[float | None, Train(HOLDOUT_HELP)] = D.holdout,
    pretrained: Annotated[bool, Train(PRETRAINED_HELP, "--pretrained")] = D.pretrained,
    init_from: Annotated[str | None, Train("Start from this checkpoint's weights (e.g. the teacher).")] = D.init_from,
    finetune_from: Annotated[
        str | None,
        typer.Option(
            help="FixRes-style fine-tune of this checkpoint on unaugmented labeled images (use a larger --img-size).",
            rich_help_panel=TRAIN,
        ),
    ] = D.finetune_from,
    freeze_stages: Annotated[int, Train(FREEZE_STAGES_HELP)] = D.freeze_stages,
    skip_missing: Annotated[bool, Train(SKIP_MISSING_HELP, "--skip-missing")] = D.skip_missing,
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
    ] = D.noise,
    randaug: Annotated[str | None, Noise(RANDAUG_HELP)] = D.randaug,
    randaug_magnitude: Annotated[int, Noise(RANDAUG_MAGNITUDE_HELP)] = D.randaug_magnitude,
    randaug_ops: Annotated[int, Noise("RandAugment operations applied per image.")] = D.randaug_ops,
    drop_rate: Annotated[float | None, Noise("Head dropout (default 0.5 noised, else 0).")] = D.drop_rate,
    drop_path_rate: Annotated[float | None, Noise("Stochastic depth (default 0.2 noised, else 0).")] = D.drop_path_rate,
    label_smoothing: Annotated[float, Noise(LABEL_SMOOTHING_HELP)] = D.label_smoothing,
    hflip: Annotated[float | None, Noise("Horizontal flip probability (default: the teacher's, else 0.5).")] = D.hflip,
    crop_scale: Annotated[float | None, Noise(CROP_SCALE_HELP)] = D.crop_scale,
    opt_name: Annotated[str, Loop("adamw or sgd (Nesterov).", "--opt")] = D.opt,
    lr: Annotated[float, Loop("Peak learning rate (after warmup).")] = D.lr,
    weight_decay: Annotated[float, Loop("Weight decay (decoupled for AdamW).")] = D.weight_decay,
    momentum: Annotated[float, Loop("SGD momentum (Nesterov).")] = D.momentum,
    warmup_epochs: Annotated[float, Loop("Linear warmup, in epochs (fractions allowed).")] = D.warmup_epochs,
    min_lr: Annotated[float, Loop("Learning rate at the end of the cosine schedule.")] = D.min_lr,
    ema_decay: Annotated[float, Loop("EMA of weights (0: off).")] = D.ema_decay,
    clip_grad: Annotated[float | None, Loop("Clip the gradient norm.")] = D.clip_grad,
    seed: opt.Seed = D.seed,
    workers: Annotated[int, Runtime("DataLoader worker processes.", min=0)] = D.workers,
    device: Annotated[str, Runtime("auto, cpu, cuda, cuda:1 ...")] = D.device,
    amp: Annotated[bool, Runtime("bfloat16 autocast on CUDA.", "--amp/--no-amp")] = D.amp,
    channels_last: Annotated[bool, Runtime("On CUDA.", "--channels-last/--no-channels-last")] = D.channels_last,
    sync_bn: Annotated[bool, Runtime(SYNC_BN_HELP, "--sync-bn")] = D.sync_bn,
    workspace: opt.Workspace = None,
    json_output: opt.Json = False,
) -> None:
    """Train round R's model: the teacher (round 0) or a noised student on a manifest."""
    from plabel.train import TrainOptions
    from plabel.train import train as run
    from plabel.train.options import parse_epochs

    options = TrainOptions(
        round=round_, model=model, manifest=str(manifest) if manifest else None, epochs=parse_epochs(epochs),
        img_size=img_size,
        in_chans=in_chans, batch_size=batch_size, unlabeled_ratio=unlabeled_ratio, opt=opt_name, lr=lr,
        weight_decay=weight_decay, momentum=momentum, warmup_epochs=warmup_epochs, min_lr=min_lr, ema_decay=ema_decay,
        clip_grad=clip_grad, label_smoothing=label_smoothing, noise=noise, randaug=randaug,
        randaug_magnitude=randaug_magnitude, randaug_ops=randaug_ops, drop_rate=drop_rate,
        drop_path_rate=drop_path_rate, hflip=hflip, crop_scale=crop_scale, holdout=holdout, pretrained=pretrained,
        init_from=init_from, finetune_from=finetune_from, freeze_stages=freeze_stages, skip_missing=skip_missing,
        seed=seed, workers=workers, device=device, amp=amp, channels_last=channels_last, sync_bn=sync_bn,
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
