"""URL matching for the app: one bound MapAdapter per (host, scheme, script root), and two
indexes consulted before werkzeug's matcher (which stays the reference for everything else):

- static rules (no variables) by exact path;
- "branch" rules: werkzeug's matcher follows a literal segment before any variable one, and
  searches everything under a literal prefix before leaving it. So if a rule is the only one under
  its literal prefix (say `/api/users/` for `/api/users/<int:id>`) that could match a path of that
  many segments — counting rules a trailing-slash redirect or `strict_slashes=False` would also
  answer, and excluding prefixes holding a slash-eating `path` variable — and it matches the path
  and accepts the method, werkzeug would return that rule with those values. We match its segments
  directly instead of walking the state machine. Any doubt (no entry, mismatch, other method,
  converter rejection) defers to werkzeug.

The indexes are rebuilt when rules are added (Map counts additions) and are bounded. A request line
(path, method, Host, scheme, script root) that found a static rule is remembered with its adapter, so the
next request with that line is bound and matched by one lookup (`bind_line`).
"""

from __future__ import annotations

import re
import typing as t

from werkzeug.exceptions import NotFound
from werkzeug.routing import Map as _WMap
from werkzeug.routing import MapAdapter, ValidationError
from werkzeug.routing import Rule as _WRule
from werkzeug.routing.converters import DEFAULT_CONVERTERS

from .input_checks import path_info_of, wsgi_text

if t.TYPE_CHECKING:  # pragma: no cover
    from .app import App
    from .ctx import RequestContext

_MAX_ADAPTERS = 128
_MAX_MISSES = 1024  # unmatched (adapter, path, method) remembered; forgotten all at once when full
_MAX_HITS = 1024  # static rules found per (adapter, path, method), kept the same way
_BUILTIN_CONVERTERS = frozenset(DEFAULT_CONVERTERS.values())
_MAX_DEPTH = 4  # literal path segments looked at when searching the branch index


class _LazyBuilder:
    """Stands in for a compiled URL builder until the rule first builds a URL."""

    __slots__ = ("append_unknown",)

    def __init__(self, append_unknown: bool) -> None:
        self.append_unknown = append_unknown

    def __get__(self, rule: _WRule, owner: t.Any = None) -> t.Callable[..., tuple[str, str]]:
        append_unknown = self.append_unknown

        def build(*args: t.Any, **kwargs: t.Any) -> tuple[str, str]:
            real = _WRule._compile_builder(rule, append_unknown).__get__(rule, None)
            setattr(rule, "_build_unknown" if append_unknown else "_build", real)
            return real(*args, **kwargs)

        return build


class Rule(_WRule):
    """werkzeug's Rule, compiling its two URL-builder functions on first use instead of at
    registration (they cost most of the time of adding a rule, and many rules never build URLs)."""

    def _compile_builder(self, append_unknown: bool = True) -> t.Any:
        return _LazyBuilder(append_unknown)


class Map(_WMap):
    """werkzeug's Map that counts added rules, so derived lookup tables know when to rebuild."""

    rules_version = 0

    def add(self, rulefactory: t.Any) -> None:
        super().add(rulefactory)
        self.rules_version += 1


class _Branch:
    """A rule that alone owns its first literal path segment, pre-split for direct matching."""

    __slots__ = ("converters", "rule", "segments", "steps")

    def __init__(self, rule: _WRule, parts: list[t.Any]) -> None:
        self.rule = rule
        self.segments = len(parts) - 1  # path segments including the leading empty one
        steps: list[tuple[bool, t.Any, tuple[str, ...]]] = []
        for part in parts[3:]:
            if part.static:
                steps.append((True, part.content, ()))
            else:
                pattern = re.compile(part.content)
                names = tuple(sorted((n for n in pattern.groupindex if n.startswith("__werkzeug_")),
                                     key=lambda n: int(n[11:])))
                steps.append((False, pattern, names))
        self.steps = tuple(steps)
        self.converters = tuple(rule._converters.items())

    def match(self, segments: list[str], method: str) -> tuple[_WRule, dict[str, t.Any]] | None:
        """The rule and its converted values if `segments` (the path split on "/") match it."""
        rule = self.rule
        if len(segments) != self.segments:
            return None
        methods = rule.methods
        if methods is not None and method not in methods:
            return None
        values: list[str] = []
        index = 2
        for static, pattern, names in self.steps:
            segment = segments[index]
            index += 1
            if static:
                if segment != pattern:
                    return None
                continue
            m = pattern.match(segment)
            if m is None:
                return None
            if len(names) == 1:
                values.append(m.group(names[0]))
            else:
                values.extend(m.group(name) for name in names)
        result: dict[str, t.Any] = {}
        try:
            for (name, converter), value in zip(self.converters, values, strict=False):  # as werkzeug pairs them
                result[name] = converter.to_python(value)
        except ValidationError:
            return None
        if rule.defaults:
            result.update(rule.defaults)
        return rule, result


def _indexable(rule: _WRule, endpoints: dict[str, int]) -> bool:
    return not (
        rule.redirect_to is not None
        or rule.websocket
        or rule.build_only
        or rule.alias
        or endpoints[rule.endpoint] > 1
    )


class RouteCache:
    """Per-app caches of bound adapters and of static rules."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._adapters: dict[tuple[t.Any, ...], MapAdapter] = {}
        self._static: dict[tuple[str, str], list[_WRule]] = {}
        self._branches: dict[tuple[t.Any, ...], _Branch] = {}
        self._depth = 0
        self._static_version = -1
        self._static_map: _WMap | None = None
        self._misses: set[tuple[MapAdapter, str, str]] = set()
        self._misses_kept = False
        # (adapter, PATH_INFO, method) -> (static rule found, the map's rules_version then): the adapter stands for
        # host, scheme, script root and websocket, so the same key always finds the same rule until rules change.
        self._hits: dict[tuple[MapAdapter, str, str], tuple[_WRule, int]] = {}
        # Request line (PATH_INFO, method, Host, scheme, script root) -> (adapter, static rule, and what decided
        # both then: url_map, its rules_version, SERVER_NAME, subdomain_matching). See bind_line.
        self._lines: dict[tuple[t.Any, ...], tuple[t.Any, ...]] = {}

    def bind(self, environ: dict[str, t.Any]) -> MapAdapter:
        """The MapAdapter for this request's host, scheme, script root and method (bound once, then reused).

        The method is part of the key because `build` prefers rules for the adapter's `default_method`
        (url_for during a POST picks an endpoint's POST rule). The adapter is shared between requests
        to different paths: always pass the path to `match`.
        """
        app = self.app
        server_name = app.config["SERVER_NAME"]
        url_map = app.url_map
        key = (
            environ.get("HTTP_HOST") or (environ.get("SERVER_NAME"), environ.get("SERVER_PORT")),
            environ.get("wsgi.url_scheme"),
            environ.get("SCRIPT_NAME", ""),
            environ.get("REQUEST_METHOD"),
            environ.get("HTTP_UPGRADE") and environ.get("HTTP_CONNECTION"),
            server_name,
            app.subdomain_matching,
            url_map,
        )
        adapter = self._adapters.get(key)
        if adapter is None:
            subdomain = None
            if url_map.host_matching:
                server_name = None  # match on the real Host
            elif not app.subdomain_matching:
                subdomain = url_map.default_subdomain or ""
            adapter = url_map.bind_to_environ(environ, server_name=server_name, subdomain=subdomain)
            if len(self._adapters) >= _MAX_ADAPTERS:
                self._adapters.clear()
            self._adapters[key] = adapter
        return adapter

    def bind_line(self, environ: dict[str, t.Any]) -> tuple[MapAdapter, _WRule | None, tuple[t.Any, ...] | None]:
        """`bind(environ)`, plus the static rule this exact request line found last time if nothing that decided
        the adapter or the rule has changed since: `(adapter, rule or None, key)`, where `key` is the line's key
        for `match` to remember it by (None when already remembered or not to be: no Host, an upgrade, or a
        path that is not plain ASCII or holds a "%").

        One lookup stands in for binding and matching on most requests of a busy app. The raw URI need not be
        looked at: every request `path_info_of` refuses (a bad escape, bytes that are not UTF-8) leaves a "%" or
        a non-ASCII character in PATH_INFO, so it never shares a remembered line with a request it accepts.
        """
        path = environ.get("PATH_INFO")
        host = environ.get("HTTP_HOST")
        if not path or not host or "HTTP_UPGRADE" in environ or not path.isascii() or "%" in path:
            return self.bind(environ), None, None
        key = (path, environ.get("REQUEST_METHOD"), host, environ.get("wsgi.url_scheme"), environ.get("SCRIPT_NAME", ""))
        line = self._lines.get(key)
        if line is not None:
            app = self.app
            url_map = app.url_map
            if (
                line[2] is url_map
                and line[3] == url_map.rules_version
                and line[4] == app.config["SERVER_NAME"]
                and line[5] == app.subdomain_matching
            ):
                return line[0], line[1], None
        return self.bind(environ), None, key

    def _remember_line(self, key: tuple[t.Any, ...], adapter: MapAdapter, rule: _WRule) -> None:
        app = self.app
        if len(self._lines) >= _MAX_HITS:
            self._lines.clear()
        url_map = adapter.map
        self._lines[key] = (
            adapter, rule, url_map, url_map.rules_version, app.config["SERVER_NAME"], app.subdomain_matching  # type: ignore[attr-defined]
        )

    def bind_server(self, server_name: str, script_name: str, url_scheme: str) -> MapAdapter:
        """The adapter for building URLs outside requests (SERVER_NAME etc.), bound once per config."""
        url_map = self.app.url_map
        key = ("<server>", server_name, script_name, url_scheme, url_map)
        adapter = self._adapters.get(key)
        if adapter is None:
            adapter = url_map.bind(server_name, script_name=script_name, url_scheme=url_scheme)
            if len(self._adapters) >= _MAX_ADAPTERS:
                self._adapters.clear()
            self._adapters[key] = adapter
        return adapter

    def _tables(self) -> tuple[dict[tuple[str, str], list[_WRule]], dict[tuple[t.Any, ...], _Branch]] | None:
        url_map = self.app.url_map
        version = getattr(url_map, "rules_version", None)
        if version is None or url_map.host_matching:
            return None
        if version != self._static_version or url_map is not self._static_map:
            self._rebuild(url_map)
            self._static_version = version
            self._static_map = url_map
        return self._static, self._branches

    def _rebuild(self, url_map: _WMap) -> None:
        url_map.update()
        rules = list(url_map.iter_rules())
        endpoints: dict[str, int] = {}
        for rule in rules:
            endpoints[rule.endpoint] = endpoints.get(rule.endpoint, 0) + 1
        static: dict[tuple[str, str], list[_WRule]] = {}
        # For every literal prefix (domain, segment1, ..., segmentN) and path length: how many rules
        # under that prefix could match a path of that length. Prefixes holding a rule whose last
        # variable eats slashes (path converter) can match any length and are never used.
        claims: dict[tuple[t.Any, ...], int] = {}
        any_length: set[tuple[str, ...]] = set()
        candidates: list[tuple[_WRule, list[tuple[str, ...]]]] = []
        for rule in rules:
            parts = getattr(rule, "_parts", None)
            if not parts or len(parts) < 3 or not (parts[0].static and parts[1].static):
                continue
            if (
                not rule.arguments
                and _indexable(rule, endpoints)
                and "//" not in rule.rule
                and rule.rule.startswith("/")
            ):
                static.setdefault((rule.subdomain or "", rule.rule), []).append(rule)
            literals: list[str] = []
            for part in parts[2:]:
                if not part.static:
                    break
                literals.append(part.content)
            prefixes = [(parts[0].content, *literals[:depth]) for depth in range(1, min(len(literals), _MAX_DEPTH) + 1)]
            length = len(parts) - 1
            lengths = {length}
            if parts[-1].static and parts[-1].content == "":
                lengths.add(length - 1)  # "/x/" also answers "/x" (slash redirect)
            if not rule.strict_slashes:
                lengths.add(length + 1)  # and "/x" answers "/x/"
            greedy = any(p.final or p.suffixed for p in parts)
            for prefix in prefixes:
                if greedy:
                    any_length.add(prefix)
                for n in lengths:
                    claims[(n, *prefix)] = claims.get((n, *prefix), 0) + 1
            if not greedy and prefixes and _indexable(rule, endpoints):
                candidates.append((rule, prefixes))
        branches: dict[tuple[t.Any, ...], _Branch] = {}
        for rule, prefixes in candidates:
            length = len(rule._parts) - 1
            for prefix in prefixes:  # the shortest literal prefix that only this rule claims
                if prefix not in any_length and claims[(length, *prefix)] == 1:
                    branches[(length, *prefix)] = _Branch(rule, rule._parts)
                    break
        self._static = static
        self._branches = branches
        self._misses = set()
        # A path no rule matched stays unmatched while the rules stay the same, unless a converter
        # could decide differently next time (one of the app's own, which may look things up).
        self._misses_kept = all(
            type(converter) in _BUILTIN_CONVERTERS for rule in rules for converter in rule._converters.values()
        )
        self._depth = max((len(key) - 2 for key in branches), default=0)

    def match(self, ctx: RequestContext) -> tuple[_WRule, dict[str, t.Any]]:
        """Match the request: the static and branch indexes when they are sure, else werkzeug."""
        request = ctx.request
        adapter = ctx.url_adapter
        assert adapter is not None
        path_info = path_info_of(request.environ)
        method = request.method
        hit = self._hits.get((adapter, path_info, method))
        if hit is not None and hit[1] == adapter.map.rules_version:  # type: ignore[attr-defined]
            rule = hit[0]
            if ctx._line is not None:
                self._remember_line(ctx._line, adapter, rule)
            return rule, dict(rule.defaults) if rule.defaults else {}
        # What werkzeug's matcher sees: leading slashes collapse to one; an empty path stays empty.
        path = f"/{path_info.lstrip('/')}" if path_info else ""
        if path and not adapter.websocket and "//" not in path:
            tables = self._tables()
            if tables is not None:
                domain = adapter.subdomain or ""
                rules = tables[0].get((domain, path))
                if rules is not None:
                    for rule in rules:
                        if rule.methods is None or method in rule.methods:
                            if len(self._hits) >= _MAX_HITS:
                                self._hits.clear()
                            self._hits[(adapter, path_info, method)] = (rule, self._static_version)
                            if ctx._line is not None:
                                self._remember_line(ctx._line, adapter, rule)
                            return rule, dict(rule.defaults) if rule.defaults else {}
                segments = path.split("/")
                branches = tables[1]
                count = len(segments)
                branch = branches.get((count, domain, segments[1]))
                depth = 1
                while branch is None and depth < self._depth and depth + 1 < count:
                    depth += 1
                    branch = branches.get((count, domain, *segments[1 : depth + 1]))
                if branch is not None:
                    found = branch.match(segments, method)
                    if found is not None:
                        return found
                miss = (adapter, path_info, method)
                if miss in self._misses:
                    raise NotFound()  # what werkzeug answered for this path last time
                query = wsgi_text(request.environ.get("QUERY_STRING", ""))
                try:
                    return adapter.match(path_info, method, return_rule=True, query_args=query)  # type: ignore[return-value]
                except NotFound as e:
                    if type(e) is NotFound and self._misses_kept:
                        if len(self._misses) >= _MAX_MISSES:
                            self._misses.clear()
                        self._misses.add(miss)
                    raise
        query = wsgi_text(request.environ.get("QUERY_STRING", ""))
        return adapter.match(path_info, method, return_rule=True, query_args=query)  # type: ignore[return-value]
