"""YAML read with line numbers: every value remembers its own line (and its key's), for FILE:LINE problems.

All loaders parse through `read_yaml` and report through `Findings`, so a file's problems are collected in
one pass and raised together as one ConfigError.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .problems import ConfigError, Problem, Severity

_SHOWN = 60  # characters of a value quoted in a problem


@dataclass
class Node:
    """One YAML value: a scalar (constructed as YAML 1.1 does), a mapping or a sequence, with its line.

    `line` is where the value starts; `key_line` is the line of the key holding it (the line a person reads
    as "that setting"), or `line` for list items and the document root.
    """

    kind: str  # "scalar" | "map" | "seq"
    line: int
    key_line: int
    value: Any = None  # scalars only
    text: str = ""  # scalars only: the text as written
    items: list[Node] = field(default_factory=list)  # sequences
    entries: dict[str, Node] = field(default_factory=dict)  # mappings, in file order

    @property
    def is_map(self) -> bool:
        return self.kind == "map"

    @property
    def is_seq(self) -> bool:
        return self.kind == "seq"

    @property
    def is_scalar(self) -> bool:
        return self.kind == "scalar"

    def get(self, key: str) -> Node | None:
        return self.entries.get(key)

    def describe(self) -> str:
        if self.kind == "map":
            return "a mapping"
        if self.kind == "seq":
            return "a list"
        if self.value is None:
            return "empty"
        text = self.text if len(self.text) <= _SHOWN else self.text[:_SHOWN] + "..."  # one readable line
        return f"{text!r}"


class Findings:
    """The problems found in one file, in the order found; `raise_if_errors` turns them into one ConfigError."""

    def __init__(self, path: Path, problems: list[Problem] | None = None) -> None:
        self.path = path
        self.problems: list[Problem] = [] if problems is None else problems

    def for_file(self, path: Path) -> Findings:
        """Findings about another file (an included one) that land in this same list."""
        return Findings(path, self.problems)

    def error(self, line: int, message: str, fix: str) -> None:
        self.problems.append(Problem(self.path, line, message, fix, "error"))

    def warn(self, line: int, message: str, fix: str) -> None:
        self.problems.append(Problem(self.path, line, message, fix, "warning"))

    def add(self, line: int, message: str, fix: str, severity: Severity) -> None:
        self.problems.append(Problem(self.path, line, message, fix, severity))

    @property
    def has_errors(self) -> bool:
        return any(p.severity == "error" for p in self.problems)

    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "warning")

    def raise_if_errors(self) -> None:
        if self.has_errors:
            raise ConfigError(sorted(self.problems, key=lambda p: (str(p.file) != str(self.path), p.line)))


def _convert(node: yaml.Node, key_line: int, findings: Findings, seen: dict[int, Node],
             constructor: yaml.constructor.SafeConstructor) -> Node:
    line = node.start_mark.line + 1
    if id(node) in seen:  # an alias: the same value again
        return seen[id(node)]
    if isinstance(node, yaml.MappingNode):
        result = Node("map", line, key_line)
        seen[id(node)] = result
        constructor.flatten_mapping(node)  # resolve `<<: *anchor` merges as safe_load does
        for key_node, value_node in node.value:
            kline = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                findings.error(kline, "a key here is a list or mapping, not a name",
                               "write a plain name before the colon")
                continue
            key = key_node.value
            if key in result.entries:
                findings.error(kline, f"duplicate key {key!r} (also on line {result.entries[key].key_line})",
                               "keep one of them: YAML keeps only the last, gcloud refuses the file")
            result.entries[key] = _convert(value_node, kline, findings, seen, constructor)
        return result
    if isinstance(node, yaml.SequenceNode):
        result = Node("seq", line, key_line)
        seen[id(node)] = result
        result.items = [_convert(item, item.start_mark.line + 1, findings, seen, constructor)
                        for item in node.value]
        return result
    try:
        value = constructor.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        findings.error(line, f"value {node.value!r} cannot be read: {getattr(exc, 'problem', exc)}",
                       "quote the value")
        value = node.value
    result = Node("scalar", line, key_line, value=value, text=str(node.value))
    seen[id(node)] = result
    return result


def read_yaml(path: Path, findings: Findings) -> Node | None:
    """Parse `path` into a Node tree; None (with the problem recorded) when it is unreadable or not YAML.

    An empty file gives an empty mapping, as gcloud treats it.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        findings.error(1, "the file does not exist", "check the path, or create the file")
        return None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        findings.error(line, "cannot read the file (it is not UTF-8 text)",
                       "save it as UTF-8 text (is it the right file? YAML config files are text)")
        return None
    except OSError as exc:
        what = "a folder" if path.is_dir() else exc.strerror
        findings.error(1, f"cannot read the file ({what})", "check the path and the file's permissions")
        return None
    return parse_yaml(text, findings)


def parse_yaml(text: str, findings: Findings) -> Node | None:
    """Parse YAML text (see read_yaml)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        opened = getattr(exc, "context_mark", None)
        if "end of stream" in problem and opened is not None:
            mark = opened  # an unclosed quote or bracket: where it was opened
        context = getattr(exc, "context", None)
        detail = f"{context}, {problem}" if context else problem
        findings.error(mark.line + 1 if mark else 1, f"not valid YAML: {detail}",
                       "correct the YAML on that line (indentation, quotes, a space after `:` and `-`)")
        return None
    if root is None:
        return Node("map", 1, 1)
    try:
        # A fresh constructor per file: it caches every object it built.
        return _convert(root, root.start_mark.line + 1, findings, {}, yaml.constructor.SafeConstructor())
    except yaml.YAMLError as exc:  # a bad `<<:` merge
        mark = getattr(exc, "problem_mark", None)
        findings.error(mark.line + 1 if mark else 1, f"not valid YAML: {getattr(exc, 'problem', exc)}",
                       "merge (`<<:`) only mappings, by anchor (`<<: *name`)")
        return None


# --- shared checks -------------------------------------------------------------------------------------
def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The closest known name to a misspelt one, or None."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def check_keys(node: Node, known: Iterable[str], where: str, findings: Findings,
               handled: Iterable[str] = ()) -> None:
    """An error for each key of mapping `node` not in `known`, with a did-you-mean when one is close.

    Keys in `handled` are reported elsewhere (refused keys with their own message) and skipped here.
    """
    allowed = list(known)
    skip = set(handled)
    for key, child in node.entries.items():
        if key in allowed or key in skip:
            continue
        guess = did_you_mean(key, allowed)
        fix = f"did you mean `{guess}`?" if guess else f"remove it; {where} accepts: {', '.join(sorted(allowed))}"
        findings.error(child.key_line, f"unknown key {key!r} in {where}", fix)


def expect_map(node: Node | None, what: str, findings: Findings, example: str) -> Node | None:
    """`node` if it is a mapping; else an error naming `what` and None."""
    if node is None:
        return None
    if node.is_map:
        return node
    if node.is_scalar and node.value is None:
        return Node("map", node.line, node.key_line)
    findings.error(node.key_line, f"{what} must be a mapping, not {node.describe()}", f"write it as {example}")
    return None


def expect_list(node: Node | None, what: str, findings: Findings, example: str) -> list[Node]:
    """The items of list `node`; an empty value is an empty list; anything else is an error."""
    if node is None or (node.is_scalar and node.value is None):
        return []
    if node.is_seq:
        return node.items
    findings.error(node.key_line, f"{what} must be a list, not {node.describe()}", f"write it as {example}")
    return []


def get_str(node: Node | None, what: str, findings: Findings, fix: str) -> str | None:
    """A scalar's text as a string (numbers allowed, as gcloud converts them); None if absent or not a scalar."""
    if node is None:
        return None
    if not node.is_scalar or node.value is None:
        findings.error(node.key_line, f"{what} must be a text value, not {node.describe()}", fix)
        return None
    if isinstance(node.value, bool):
        return node.text
    return node.value if isinstance(node.value, str) else node.text


def get_bool(node: Node | None, what: str, findings: Findings) -> bool | None:
    if node is None:
        return None
    if node.is_scalar and isinstance(node.value, bool):
        return node.value
    findings.error(node.key_line, f"{what} must be true or false, not {node.describe()}",
                   f"write `{what}: true` or `{what}: false`")
    return None


def get_int(node: Node | None, what: str, findings: Findings, low: int, high: int) -> int | None:
    """An integer in [low, high] (a digit string counts); an error and None otherwise."""
    if node is None:
        return None
    value = node.value if node.is_scalar else None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        findings.error(node.key_line, f"{what} is {node.describe()}, not a whole number from {low} to {high}",
                       f"set {what} to a whole number between {low} and {high}")
        return None
    return value


def get_float(node: Node | None, what: str, findings: Findings, low: float, high: float) -> float | None:
    if node is None:
        return None
    value = node.value if node.is_scalar else None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            value = None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        findings.error(node.key_line, f"{what} is {node.describe()}, not a number from {low:g} to {high:g}",
                       f"set {what} to a number between {low:g} and {high:g}")
        return None
    return float(value)


# --- durations ----------------------------------------------------------------------------------------
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1, "": 1}
_DURATION_PART = re.compile(r"(\d+)([dhms]?)", re.IGNORECASE)


def parse_duration(text: str) -> int | None:
    """Seconds of an app.yaml duration like "4d 5h 30m 15s" (bare number = seconds); None when malformed."""
    parts = text.split()
    if not parts:
        return None
    total = 0
    for part in parts:
        match = _DURATION_PART.fullmatch(part)
        if not match:
            return None
        total += int(match.group(1)) * _UNITS[match.group(2).lower()]
    return total


_AGE = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


def parse_age(text: str) -> float | None:
    """Seconds of a retry age limit like "2d" or "30s" (one number, one unit s/m/h/d); None when malformed."""
    match = _AGE.fullmatch(text.strip())
    if not match:
        return None
    return float(match.group(1)) * _UNITS[match.group(2)]


def read_retry_values(block: Node, prefix: str, highest_limit: int, findings: Findings) -> dict[str, object]:
    """The settings given in a `retry_parameters` block shared by cron.yaml (`job_*`) and queue.yaml (`task_*`):
    `{prefix}_retry_limit`, `{prefix}_age_limit` (seconds), the backoffs and `max_doublings`, each checked.

    min above max is an error only when both are given: with one, App Engine raises the other to match.
    """
    values: dict[str, object] = {}
    limit = get_int(block.get(f"{prefix}_retry_limit"), f"{prefix}_retry_limit", findings, 0, highest_limit)
    if limit is not None:
        values[f"{prefix}_retry_limit"] = limit
    age_node = block.get(f"{prefix}_age_limit")
    if age_node is not None:
        age = parse_age(age_node.text) if age_node.is_scalar else None
        if age is None or age <= 0:
            findings.error(age_node.key_line, f"{prefix}_age_limit is {age_node.describe()}, not a positive "
                           "duration", "write a number and a unit s, m, h or d, e.g. `2d`")
        else:
            values[f"{prefix}_age_limit"] = age
    for key in ("min_backoff_seconds", "max_backoff_seconds"):
        seconds = get_float(block.get(key), key, findings, 0.0, float(2**31 - 1))
        if seconds is not None:
            values[key] = seconds
    doublings = get_int(block.get("max_doublings"), "max_doublings", findings, 0, 2**31 - 1)
    if doublings is not None:
        values["max_doublings"] = doublings
    low, high = values.get("min_backoff_seconds"), values.get("max_backoff_seconds")
    if isinstance(low, float) and isinstance(high, float) and low > high:
        findings.error(block.entries["min_backoff_seconds"].key_line, f"min_backoff_seconds ({low:g}) is above "
                       f"max_backoff_seconds ({high:g})", "make min_backoff_seconds at most max_backoff_seconds")
    return values
