"""`python -m plabel.cli`: the same as the `plabel` command."""
from plabel.cli import main

main()
