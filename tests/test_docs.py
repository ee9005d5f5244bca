"""Generated pages in docs/ match what the code generates; every command is documented."""
from pathlib import Path

import pytest

from plabel.cli.reference import command_names
from plabel.docs import generated

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["tables.md", "cli.md"])
def test_generated_page_is_in_sync(name):
    assert (ROOT / "docs" / name).read_text() == generated()[name], f"docs/{name} is stale: run `python -m plabel.docs`"


def test_every_command_has_help_and_a_section(cli):
    page = (ROOT / "docs" / "cli.md").read_text()
    for name in command_names():
        r = cli(name, "--help")
        assert r.exit_code == 0
        summary = r.stdout.split("\n\n")[1].strip()
        assert summary and not summary.startswith("Usage"), name
        assert f"## plabel {name}\n" in page


def test_readme_has_the_three_setup_commands():
    readme = (ROOT / "README.md").read_text()
    head = readme[: readme.index("##", readme.index("## Set-up") + 3)]
    for marker in ("# install", "# demo", "# tests"):
        assert marker in head
