"""``python -m docstream``: the same as the ``docstream`` console script."""

from docstream.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
