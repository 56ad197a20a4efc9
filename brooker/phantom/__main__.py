"""``python -m brooker.phantom``: see :func:`brooker.phantom.cli.main`."""

from brooker.phantom.cli import main

raise SystemExit(main())
