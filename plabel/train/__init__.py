"""`plabel train`: the teacher (round 0) and the noised students, from manifests.

The stages, each its own function: resolve the options and the manifest (`plan_run`), build
the model, optimizer, schedule and EMA (`_build`), run epochs (`_run_epoch`) with a state saved
atomically after each one (`_save_state`), then write the checkpoint. A killed run resumes from
its last saved epoch and, with the same seed, ends with the same weights as an uninterrupted run.
"""
from plabel.train.options import NOISE, OPTIMIZERS, TrainOptions, TrainResult, validate
from plabel.train.plan import RunPlan, plan_run
from plabel.train.run import train

__all__ = ["NOISE", "OPTIMIZERS", "RunPlan", "TrainOptions", "TrainResult", "plan_run", "train", "validate"]
