"""A fast subset of the crash harness (tests/crash_harness.py): two random kills per command.

infer and run have their own kill tests (test_infer.py, test_run.py)."""
import pytest

from tests.crash_harness import ok, trials


@pytest.mark.parametrize("command", [pytest.param("ingest", marks=pytest.mark.slow), "select",
                                     pytest.param("train", marks=pytest.mark.slow)])
def test_killed_command_leaves_a_consistent_workspace_and_resumes(command, tmp_path):
    results = trials(command, 2, seed=0, scratch=tmp_path)
    assert all(ok(r) for r in results), results
