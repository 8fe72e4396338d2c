"""``python -m hivebase.db.migrations revision <registry|app> -m "what changed"``: see authoring.py."""

from __future__ import annotations

import argparse
import sys

from hivebase.db.migrations import TREES
from hivebase.db.migrations.authoring import new_revision


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hivebase.db.migrations")
    commands = parser.add_subparsers(dest="command", required=True)
    revision = commands.add_parser("revision", help="write the next revision from the table definitions")
    revision.add_argument("tree", choices=TREES)
    revision.add_argument("-m", "--message", required=True)
    args = parser.parse_args(argv)
    path = new_revision(args.tree, args.message)
    print(f"wrote {path}" if path else f"nothing to do: the {args.tree} tables match the newest revision")
    return 0


if __name__ == "__main__":
    sys.exit(main())
