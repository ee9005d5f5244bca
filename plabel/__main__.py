"""`python -m plabel ...`: the command line, as `torchrun -m plabel ...` starts it on every rank."""
from plabel.cli.app import app

if __name__ == "__main__":
    app(prog_name="plabel")
