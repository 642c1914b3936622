"""dispatch.yaml: which service answers which host/path, first match wins, never for /_ah/ (§5.5)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .problems import Problem
from .yaml_nodes import Findings, Node, check_keys, expect_list, expect_map, get_str, read_yaml

MAX_RULES = 20
MAX_PART = 100
_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_HOSTNAME = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}")
_STAR_SUFFIX = re.compile(rf"[a-z0-9-]*[a-z0-9]|(?:\.|[a-z0-9-]*[a-z0-9]\.)(?:{_LABEL}\.)*{_LABEL}")
_IPV4 = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")
_SERVICE = re.compile(r"(?!-)[a-z\d\-]{0,62}[a-z\d]")


@dataclass(frozen=True)
class DispatchRule:
    url: str  # as written: [*]host/path[*]
    service: str
    line: int
    host: re.Pattern[str]  # compiled from the host part (`*` only as a prefix)
    path: re.Pattern[str]  # compiled from the path part (`*` only as a suffix)

    def matches(self, host: str, path: str) -> bool:
        return bool(self.host.fullmatch(host.split(":", 1)[0].lower()) and self.path.fullmatch(path))


@dataclass(frozen=True)
class Dispatch:
    path: Path | None
    rules: tuple[DispatchRule, ...] = ()
    warnings: tuple[Problem, ...] = field(default=(), compare=False)

    def service_for(self, host: str, path: str) -> str | None:
        """The service of the first rule matching; None for /_ah/ paths and when nothing matches."""
        if path.startswith("/_ah/"):
            return None
        for rule in self.rules:
            if rule.matches(host, path):
                return rule.service
        return None


def _host_ok(bare: str, wildcard: bool) -> bool:
    """The SDK's host rules: an exact host name, or after `*` nothing, a name's tail, or `.` and a name."""
    if wildcard:
        return bare == "" or bool(_STAR_SUFFIX.fullmatch(bare))
    return bool(_HOSTNAME.fullmatch(bare))


def compile_dispatch_url(url: str) -> tuple[re.Pattern[str], re.Pattern[str]] | str:
    """(host pattern, path pattern) of a rule's url, or the reason it is not a valid dispatch url."""
    if "/" not in url:
        return "has no path part (a dispatch url is HOST/PATH, e.g. `*/api/*`)"
    host, path = url[: url.index("/")], url[url.index("/"):]
    if not host:
        return "has no host part (use `*` for any host, e.g. `*/api/*`)"
    wildcard_host = host.startswith("*")
    bare_host = host[1:] if wildcard_host else host
    if "*" in bare_host:
        return "has `*` inside the host; `*` may only start the host"
    if "*" in path[:-1]:
        return "has `*` inside the path; `*` may only end the path"
    if len(host) > MAX_PART:
        return f"has a host of {len(host)} characters; the limit is {MAX_PART}"
    if len(path) > MAX_PART:
        return f"has a path of {len(path)} characters; the limit is {MAX_PART}"
    if not _host_ok(bare_host, wildcard_host):
        return (f"has an invalid host {host!r}: lower-case letters, digits, - and dots only (no port), each "
                "label starting and ending with a letter or digit")
    if not wildcard_host and _IPV4.fullmatch(bare_host) and all(int(n) <= 255 for n in bare_host.split(".")):
        return "uses an IPv4 address as host; dispatch rules match host names only"
    host_re = (".*" if wildcard_host else "") + re.escape(bare_host)
    path_re = re.escape(path[:-1]) + ".*" if path.endswith("*") else re.escape(path)
    return re.compile(host_re), re.compile(path_re)


def _rule(item: Node, findings: Findings) -> DispatchRule | None:
    entry = expect_map(item, "a dispatch rule", findings, '`- url: "*/api/*"` with `service: api` below it')
    if entry is None:
        return None
    check_keys(entry, ("url", "service", "module"), "a dispatch rule", findings)
    url_node, service_node = entry.get("url"), entry.get("service") or entry.get("module")
    if "module" in entry.entries:
        findings.warn(entry.entries["module"].key_line, "`module:` is the deprecated name of `service:`",
                      "rename it to `service:`")
    if url_node is None or service_node is None:
        missing = "url" if url_node is None else "service"
        findings.error(entry.line, f"this dispatch rule has no {missing}",
                       'give every rule a `url: "HOST/PATH"` and a `service: NAME`')
        return None
    url = get_str(url_node, "url", findings, 'write the url quoted, e.g. `url: "*/api/*"`')
    service = get_str(service_node, "service", findings, "write the service name, e.g. `service: api`")
    if url is None or service is None:
        return None
    ok = True
    if not _SERVICE.fullmatch(service):
        findings.error(service_node.key_line, f"service {service!r} is not a valid service id",
                       "use the `service:` name of one of your app.yaml files")
        ok = False
    compiled = compile_dispatch_url(url)
    if isinstance(compiled, str):
        findings.error(url_node.key_line, f"dispatch url {url!r} {compiled}",
                       'write `[*]host/path[*]`, e.g. "*/api/*" or "admin.example.com/*"')
        return None
    if "-dot-" in url.split("/", 1)[0]:
        findings.warn(url_node.key_line, f"dispatch url {url!r} uses a -dot- host name",
                      "match dotted host names (api.example.com); -dot- names already reach their service")
    path = "/" + url.split("/", 1)[1] if "/" in url else ""
    if path.startswith("/_ah/"):
        findings.warn(url_node.key_line, f"dispatch url {url!r} matches only /_ah/ paths, which App Engine "
                      "never dispatches: the rule has no effect", "route /_ah/ requests inside the service, "
                      "or remove the rule")
    return DispatchRule(url, service, url_node.key_line, *compiled) if ok else None


def read_dispatch_node(root: Node, path: Path, findings: Findings) -> Dispatch:
    check_keys(root, ("dispatch",), "dispatch.yaml", findings, handled=("application",))
    if "application" in root.entries:
        findings.error(root.entries["application"].key_line, "`application:` is not allowed in dispatch.yaml",
                       "remove it; pass --project to gcloud")
    if "dispatch" not in root.entries:
        findings.error(1, "dispatch.yaml has no `dispatch:` list",
                       "start with `dispatch:` and list rules below it (an empty list removes all rules)")
    items = expect_list(root.get("dispatch"), "dispatch", findings, '`- url: "*/api/*"` entries')
    if len(items) > MAX_RULES:
        findings.error(items[MAX_RULES].line, f"{len(items)} dispatch rules; App Engine allows at most "
                       f"{MAX_RULES}", "merge rules with wildcards, or route inside a service")
    rules: list[DispatchRule] = []
    for item in items:
        rule = _rule(item, findings)
        if rule is None:
            continue
        twin = next((r for r in rules if r.url == rule.url), None)
        if twin is not None:
            findings.warn(rule.line, f"the url {rule.url!r} is already dispatched on line {twin.line}; this "
                          "rule never matches", "remove one of them (the first match wins)")
        rules.append(rule)
    return Dispatch(path, tuple(rules))


def load_dispatch(path: Path | str) -> Dispatch:
    """Read and check dispatch.yaml; ConfigError lists every problem (FILE:LINE)."""
    path = Path(path)
    findings = Findings(path)
    root = expect_map(read_yaml(path, findings), "the top level of dispatch.yaml", findings,
                      "`dispatch:` followed by a list of rules")
    dispatch = read_dispatch_node(root, path, findings) if root is not None else Dispatch(path)
    findings.raise_if_errors()
    return Dispatch(dispatch.path, dispatch.rules, findings.warnings())
