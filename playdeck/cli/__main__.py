"""``python -m playdeck.cli``: the ``playdeck`` command where no console script is installed (a checkout)."""

from playdeck.cli import main

main()
