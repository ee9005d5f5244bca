"""Shared fixtures: real PNG files in tmp folders, fresh workspaces, an in-process CLI runner."""
from __future__ import annotations

import os
import shutil

import pytest
from typer.testing import CliRunner

from plabel.datasets import load_mnist, write_split_folders
from plabel.workspace import init_workspace
from tests.helpers import write_pngs  # noqa: F401  (re-exported for tests)

os.environ.setdefault("OMP_NUM_THREADS", "2")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")  # Debian's; .ci/run installs it
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium driven by Playwright (the browser tests); skipped, with the reason, where
    no browser is installed."""
    if not CHROMIUM:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium; .ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def mnist():
    return load_mnist()


@pytest.fixture
def ws(tmp_path):
    return init_workspace(tmp_path / "ws")


@pytest.fixture
def runner():
    return CliRunner()


def invoke(runner, *args):
    from plabel.cli import app

    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def cli(runner):
    return lambda *args: invoke(runner, *args)


@pytest.fixture
def image_folder(tmp_path):
    """A train ImageFolder tree (cat, dog) with an exact duplicate and two corrupt files."""
    root = tmp_path / "data" / "train"
    write_pngs(root / "cat", 6, seed=1)
    write_pngs(root / "dog", 5, seed=2)
    (root / "cat" / "empty.png").write_bytes(b"")
    good = (root / "dog" / "img0000.png").read_bytes()
    (root / "dog" / "truncated.png").write_bytes(good[: len(good) // 2])
    (root / "cat" / "copy.png").write_bytes((root / "cat" / "img0000.png").read_bytes())
    return root


@pytest.fixture(scope="session")
def mnist_folders(tmp_path_factory, mnist):
    """A small MNIST set-up: 20 labeled, 10 val and 10 test per class, 20 unlabeled per class."""
    x, y = mnist
    return write_split_folders(
        tmp_path_factory.mktemp("mnist"), x, y, labeled_per_class=20, test_per_class=10,
        unlabeled_per_class=20, val_per_class=10, seed=0,
    )
