"""``python -m brooker``."""

from brooker.launch import main

main()
