"""``python -m eventspec``: the same command line as the ``eventspec`` script."""

from .cli import main

main(prog_name="eventspec")
