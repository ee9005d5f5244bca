"""The README's tour runs as written: every bash block, in order, in one folder, on the demo's
digits (written as `plabel demo` writes them). A block that fails names itself and its stderr."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from plabel.demo import write_demo_data

pytestmark = pytest.mark.slow
README = Path(__file__).resolve().parents[1] / "README.md"


def tour_blocks() -> list[str]:
    text = README.read_text()
    tour = text[text.index("## A tour"):text.index("## Documentation")]
    return re.findall(r"```bash\n(.*?)```", tour, re.S)


def test_the_tour_has_its_steps():
    blocks = tour_blocks()
    assert len(blocks) >= 6 and any("--threshold auto" in b for b in blocks)


def test_the_readme_tour_runs_block_by_block(tmp_path):
    write_demo_data(tmp_path / "plabel-demo" / "data")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               OMP_NUM_THREADS="1")
    for n, block in enumerate(tour_blocks(), start=1):
        r = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=1800)
        assert r.returncode == 0, f"block {n} failed:\n{block}\n{r.stderr[-3000:]}"
