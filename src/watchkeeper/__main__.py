"""``python -m watchkeeper``: the same as the ``watchkeeper`` command."""

from watchkeeper.cli import main

main()
