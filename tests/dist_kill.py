"""A plabel command for torchrun in which one rank SIGKILLs itself at its k-th published file.

    torchrun --nproc-per-node 2 tests/dist_kill.py infer --round 0 -w WS

PLABEL_TEST_KILL_RANK names the rank, PLABEL_TEST_KILL_AT the call (storage.publish: a finished
part file about to be renamed into place), counting only the files whose final path contains
PLABEL_TEST_KILL_MATCH when it is set. torchrun then stops the other ranks, as it does when
any worker dies: the test checks what a re-run makes of what they left.
"""
import os
import signal
import sys

from plabel import storage

KILL_RANK = int(os.environ.get("PLABEL_TEST_KILL_RANK", "-1"))
KILL_AT = int(os.environ.get("PLABEL_TEST_KILL_AT", "0"))
MATCH = os.environ.get("PLABEL_TEST_KILL_MATCH", "")
calls = 0


def _point(fn):
    def inner(*args, **kwargs):
        global calls
        calls += MATCH in str(args[1])
        if int(os.environ.get("RANK", "0")) == KILL_RANK and calls == KILL_AT:
            os.kill(os.getpid(), signal.SIGKILL)
        return fn(*args, **kwargs)

    return inner


storage.publish = _point(storage.publish)

if __name__ == "__main__":
    from plabel.cli.app import app

    sys.argv = ["plabel", *sys.argv[1:]]
    app(prog_name="plabel")
