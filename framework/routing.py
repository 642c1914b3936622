"""URL matching for the app: one bound MapAdapter per (host, scheme, script root), and a dict of
rules without variables that is consulted before werkzeug's matcher.

Both caches are derived from `url_map`; they are rebuilt when rules are added and are bounded.
"""

from __future__ import annotations

import typing as t

from werkzeug.routing import Map as _WMap
from werkzeug.routing import MapAdapter, Rule

if t.TYPE_CHECKING:  # pragma: no cover
    from .app import App
    from .ctx import RequestContext

_MAX_ADAPTERS = 128


class Map(_WMap):
    """werkzeug's Map that counts added rules, so derived lookup tables know when to rebuild."""

    rules_version = 0

    def add(self, rulefactory: t.Any) -> None:
        super().add(rulefactory)
        self.rules_version += 1


def _wsgi_str(value: str) -> str:
    """A WSGI (latin-1) string as the text the client meant (UTF-8, undecodable bytes replaced)."""
    return value.encode("latin1").decode(errors="replace")


class RouteCache:
    """Per-app caches of bound adapters and of static rules."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._adapters: dict[tuple[t.Any, ...], MapAdapter] = {}
        self._static: dict[tuple[str, str], list[Rule]] = {}
        self._static_version = -1
        self._static_map: _WMap | None = None

    def bind(self, environ: dict[str, t.Any]) -> MapAdapter:
        """The MapAdapter for this request's host, scheme and script root (bound once, then reused).

        The adapter is shared between requests: always pass the path and method to `match`.
        """
        app = self.app
        server_name = app.config["SERVER_NAME"]
        url_map = app.url_map
        key = (
            environ.get("HTTP_HOST") or (environ.get("SERVER_NAME"), environ.get("SERVER_PORT")),
            environ.get("wsgi.url_scheme"),
            environ.get("SCRIPT_NAME", ""),
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

    def _static_table(self) -> dict[tuple[str, str], list[Rule]] | None:
        url_map = self.app.url_map
        version = getattr(url_map, "rules_version", None)
        if version is None or url_map.host_matching:
            return None
        if version != self._static_version or url_map is not self._static_map:
            url_map.update()
            endpoints: dict[str, int] = {}
            for rule in url_map.iter_rules():
                endpoints[rule.endpoint] = endpoints.get(rule.endpoint, 0) + 1
            table: dict[tuple[str, str], list[Rule]] = {}
            for rule in url_map.iter_rules():
                if (
                    rule.arguments
                    or rule.redirect_to is not None
                    or rule.websocket
                    or rule.build_only
                    or endpoints[rule.endpoint] > 1
                    or "//" in rule.rule
                    or not rule.rule.startswith("/")
                ):
                    continue
                table.setdefault((rule.subdomain or "", rule.rule), []).append(rule)
            self._static = table
            self._static_version = version
            self._static_map = url_map
        return self._static

    def match(self, ctx: RequestContext) -> tuple[Rule, dict[str, t.Any]]:
        """Match the request: a dict hit for static rules that accept the method, else werkzeug."""
        request = ctx.request
        adapter = ctx.url_adapter
        assert adapter is not None
        path = request.path
        method = request.method
        if not adapter.websocket:
            table = self._static_table()
            if table is not None:
                rules = table.get((adapter.subdomain or "", path))
                if rules is not None:
                    for rule in rules:
                        if rule.methods is None or method in rule.methods:
                            return rule, {}
        query = _wsgi_str(request.environ.get("QUERY_STRING", ""))
        return adapter.match(path, method, return_rule=True, query_args=query)  # type: ignore[return-value]
