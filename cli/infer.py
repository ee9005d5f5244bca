"""infer: round R's teacher predicts on the unlabeled pool."""
from __future__ import annotations

from typing import Annotated

import typer

from plabel.cli import _options as opt
from plabel.cli._output import emitted, info, say_removed
from plabel.cli.app import command
from plabel.infer.options import InferOptions, parse_temperature

D = InferOptions(round=0)  # D: the library's defaults are the CLI's (one owner)


@command()
def infer(
    round_: opt.OptionalRound = None,
    checkpoint: Annotated[
        str | None, opt.option("Teacher checkpoint id (default: round R's checkpoint; without --round, its own round).")
    ] = D.checkpoint,
    split: Annotated[
        list[str] | None,
        typer.Option(
            help="Also predict val, test or train images (repeatable); the unlabeled pool is always predicted."
        ),
    ] = None,
    topk: Annotated[int, opt.option("Top-k class ids and probabilities kept per image.", min=1)] = D.topk,
    store_probs: Annotated[
        str, opt.option("topk, or full: also the whole probability vector (float16).")
    ] = D.store_probs,
    embeddings: Annotated[
        bool, opt.option("Also write L2-normalised penultimate features (for dedup).", "--embeddings")
    ] = D.embeddings,
    temperature: Annotated[
        str,
        opt.option(
            "Softmax temperature T: probabilities = softmax(logits / T); auto: the checkpoint's, fitted by "
            "`plabel calibrate`."
        ),
    ] = str(D.temperature),
    batch_size: Annotated[
        int, opt.option("Images per forward pass (also the block a resumed run repeats).", min=1)
    ] = D.batch_size,
    workers: Annotated[int, opt.option("DataLoader worker processes decoding images.", min=0)] = D.workers,
    device: Annotated[str, opt.option("auto, cpu, cuda, cuda:1 ...")] = D.device,
    amp: Annotated[bool, opt.option("bfloat16 autocast on CUDA.", "--amp/--no-amp")] = D.amp,
    overwrite: Annotated[bool, opt.option("Recompute a round that is already complete.", "--overwrite")] = D.overwrite,
    rows_per_file: Annotated[
        int, opt.option("Rows per Parquet part file (bounds memory; a kill loses at most this many).", min=1)
    ] = D.flush_rows,
    workspace: opt.Workspace = None,
    json_output: opt.Json = False,
) -> None:
    """Predict on the unlabeled pool with round R's teacher, into the predictions table."""
    from plabel import checkpoints
    from plabel.infer import InferOptions
    from plabel.infer import infer as run

    ws = opt.open_ws(workspace)
    if checkpoint is not None and round_ is None:
        round_ = checkpoints.find(ws, checkpoint).round
        info(f"Round {round_} (checkpoint {checkpoint}'s round; pass --round to choose another)")
    round_ = opt.resolve_round(ws, round_, "checkpoints", "trained round")
    options = InferOptions(
        round=round_, checkpoint=checkpoint, splits=tuple(split or ()) or ("unlabeled",), topk=topk,
        store_probs=store_probs, embeddings=embeddings, temperature=parse_temperature(temperature),
        batch_size=batch_size, workers=workers,
        device=device, amp=amp, overwrite=overwrite, flush_rows=rows_per_file,
    )
    r = run(ws, options, progress=opt.progress(json_output))
    if emitted(r, json_output):
        return
    if r.already_complete:
        info(
            f"Round {r.round} already has {r.rows} predictions (checkpoint {r.checkpoint_id}); --overwrite "
            f"recomputes it."
        )
        return
    resumed = f", {r.resumed} kept from an interrupted run" if r.resumed else ""
    say_removed(r.round, r.removed)
    info(
        f"Round {r.round}: {r.predicted} images predicted with checkpoint {r.checkpoint_id}{resumed}, "
        f"{r.rejected} unreadable ({r.images_per_s:,.0f} images/s); {r.rows} rows, {r.bytes_on_disk / 1e6:.2f} MB."
    )
