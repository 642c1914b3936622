"""`python -m deploy COMMAND`: the deploy tooling's one entry point.

Each command lives in its own module exposing `add_parser(subparsers)`, which registers the subcommand and
sets `func(args) -> exit status`; adding a command is one line in COMMANDS.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

COMMANDS = (
    "deploy.check",
    "deploy.stage",
    "deploy.preflight",
    "deploy.app_cmd",
    "deploy.functions_cmd",
    "deploy.cron_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m deploy",
                                     description="Check, stage and deploy an App Engine / Cloud Functions app.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        importlib.import_module(module).add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


def run() -> int:
    """main() for the command line: a reader that stops early (`... | head`) ends the output quietly."""
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 1
    return status


if __name__ == "__main__":
    sys.exit(run())
