"""Run every benchmark suite in turn: `python -m bench [core|hosts|datastore ...]`."""

from __future__ import annotations

import importlib
import sys

SUITES = ("core", "apps", "hosts", "datastore", "tasks", "frontend", "server", "wire", "cost")


def main(argv: list[str]) -> int:
    """Run the named suites (all by default); 2 for an unknown name."""
    names = argv or list(SUITES)
    unknown = [name for name in names if name not in SUITES]
    if unknown:  # checked before anything runs: the suites take minutes
        print(f"unknown benchmark suite {unknown[0]!r}; choose from {', '.join(SUITES)}", file=sys.stderr)
        return 2
    for name in names:
        print(f"== {name}")
        importlib.import_module(f"bench.{name}").main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
