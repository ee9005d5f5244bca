"""Files from others: checkpoints load without unpickling anything."""
import json
import pickle
import re
from pathlib import Path

import pytest

from plabel import checkpoints
from plabel.errors import CheckpointError

MARKER = Path("/tmp/plabel-unpickled-marker")


class Payload:
    """Unpickling this creates MARKER: the classic pickle exploit, made harmless."""

    def __reduce__(self):
        return (Path.touch, (MARKER,))


def test_a_pickle_posing_as_weights_is_refused_not_executed(tmp_path):
    MARKER.unlink(missing_ok=True)
    folder = tmp_path / "staging"
    folder.mkdir()
    (folder / checkpoints.WEIGHTS).write_bytes(pickle.dumps({"state_dict": Payload()}))
    (folder / checkpoints.CONFIG).write_text(json.dumps({
        "model": "test_resnet", "num_classes": 2, "in_chans": 3, "classes": ["a", "b"], "round": 0,
        "data_config": {"input_size": [3, 32, 32], "mean": [0.5] * 3, "std": [0.5] * 3, "interpolation": "bilinear",
                        "crop_pct": 1.0, "crop_mode": "center"}}))
    named = tmp_path / checkpoints._digest(folder)  # its id matches: only the loader stands in the way
    folder.rename(named)
    ckpt = checkpoints.open_folder(named)
    with pytest.raises(CheckpointError, match="corrupt"):
        checkpoints.build_model(ckpt)
    assert not MARKER.exists()


def test_the_package_never_unpickles():
    import plabel.cli

    folders = {Path(plabel.__file__).parent, Path(plabel.cli.__file__).parent}  # cli/ lives apart in a checkout
    source = "\n".join(p.read_text() for folder in folders for p in folder.rglob("*.py"))
    for pattern in (r"torch\.load\(", r"pickle\.loads?\(", r"numpy\.load\(.*allow_pickle=True", r"joblib\.load\("):
        assert not re.search(pattern, source), pattern
