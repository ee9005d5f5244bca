"""Fixtures of the adversarial suite: a small trained workspace, copied fresh for each test."""
import shutil

import pytest

from plabel.infer import InferOptions, infer
from plabel.train import TrainOptions, train
from plabel.workspace import open_workspace
from tests.test_train import FAST, make_ws


@pytest.fixture(scope="session")
def trained_ws(tmp_path_factory, mnist_folders):
    """Round 0 trained for one epoch and inferred (with embeddings): the base every probe copies."""
    ws = make_ws(tmp_path_factory.mktemp("adversarial") / "ws", mnist_folders)
    train(ws, TrainOptions(round=0, epochs=1, **FAST))
    infer(ws, InferOptions(round=0, workers=0, embeddings=True))
    return ws


@pytest.fixture
def ws(trained_ws, tmp_path):
    copy = open_workspace(shutil.copytree(trained_ws.root, tmp_path / "ws"))
    copy.sync_catalog()  # a copied workspace's catalog names the old folder: its next writer refreshes it
    return copy
