"""`python -m atp` is the `atp` command."""

from atp.services.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
