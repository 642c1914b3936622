"""Run every benchmark suite in turn: `python -m bench [core|hosts|datastore ...]`."""

from __future__ import annotations

import importlib
import sys

SUITES = ("core", "hosts", "datastore")


def main(argv: list[str]) -> int:
    names = argv or list(SUITES)
    for name in names:
        if name not in SUITES:
            print(f"unknown benchmark suite {name!r}; choose from {', '.join(SUITES)}", file=sys.stderr)
            return 2
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"bench.{name}":
                raise
            print(f"== {name}: not written yet")
            continue
        print(f"== {name}")
        module.main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
