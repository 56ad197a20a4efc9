"""``python -m brooker``."""

from brooker.cli import main

main()
