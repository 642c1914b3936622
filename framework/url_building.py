"""URL building for App: `url_for`, the url_defaults functions and the url_build_error handlers.

`UrlBuildingMixin` is one of App's bases (framework.app); what it needs from App is declared on the class,
so mypy checks both halves against each other.
"""

from __future__ import annotations

import sys
import typing as t
from urllib.parse import quote

from werkzeug.routing import BuildError

from .globals import _cv_app, _cv_request

if t.TYPE_CHECKING:  # pragma: no cover
    from werkzeug.routing import MapAdapter

    from .wrappers import Request

# Characters left as they are in a URL fragment (`_anchor`); everything else is percent-encoded.
_ANCHOR_SAFE = "%!#$&'()*+,/:;=?@"


class UrlBuildingMixin:
    """App's URL building: the request's adapter inside a request, SERVER_NAME's outside one."""

    # Provided by App (framework.scaffold / framework.app).
    url_default_functions: dict[str | None, list[t.Callable[[str, dict[str, t.Any]], None]]]
    url_build_error_handlers: list[t.Callable[[Exception, str, dict[str, t.Any]], str]]

    if t.TYPE_CHECKING:  # pragma: no cover - App defines it

        def create_url_adapter(self, request: Request | None) -> MapAdapter | None: ...

    def url_for(
        self,
        endpoint: str,
        *,
        _anchor: str | None = None,
        _method: str | None = None,
        _scheme: str | None = None,
        _external: bool | None = None,
        **values: t.Any,
    ) -> str:
        """Build the URL of `endpoint`; unknown values become query args."""
        req_ctx = _cv_request.get(None)
        if req_ctx is not None:
            url_adapter = req_ctx.url_adapter
            if endpoint[:1] == ".":
                bp = req_ctx.request.blueprint
                endpoint = f"{bp}{endpoint}" if bp is not None else endpoint[1:]
            if _external is None:
                _external = _scheme is not None
        else:
            app_ctx = _cv_app.get(None)
            url_adapter = app_ctx.url_adapter if app_ctx is not None else self.create_url_adapter(None)
            if url_adapter is None:
                raise RuntimeError(
                    "Cannot build a URL outside a request without 'SERVER_NAME' in the config; set it"
                    " (and 'APPLICATION_ROOT' / 'PREFERRED_URL_SCHEME' if needed)."
                )
            if _external is None:
                _external = True
        if _scheme is not None and not _external:
            raise ValueError("'_scheme' needs '_external=True' (a scheme only appears in absolute URLs).")
        self.inject_url_defaults(endpoint, values)
        try:
            rv = url_adapter.build(  # type: ignore[union-attr]
                endpoint, values, method=_method, url_scheme=_scheme, force_external=_external
            )
        except BuildError as error:
            values.update(_anchor=_anchor, _method=_method, _scheme=_scheme, _external=_external)
            return self.handle_url_build_error(error, endpoint, values)
        if _anchor is not None:
            rv = f"{rv}#{quote(_anchor, safe=_ANCHOR_SAFE)}"
        return rv

    def inject_url_defaults(self, endpoint: str, values: dict[str, t.Any]) -> None:
        """Run url_defaults functions: the app's, then each blueprint's from outer to inner."""
        funcs = self.url_default_functions
        if not funcs:
            return
        names: list[str | None] = [None]
        if "." in endpoint:
            bp = endpoint.rpartition(".")[0]
            parts = bp.split(".")
            names.extend(".".join(parts[: i + 1]) for i in range(len(parts)))
        for name in names:
            if name in funcs:
                for func in funcs[name]:
                    func(endpoint, values)

    def handle_url_build_error(self, error: BuildError, endpoint: str, values: dict[str, t.Any]) -> str:
        """Ask `url_build_error_handlers` for a URL; re-raise the BuildError if none gives one."""
        for handler in self.url_build_error_handlers:
            try:
                rv = handler(error, endpoint, values)
            except BuildError as e:
                error = e
            else:
                if rv is not None:
                    return rv
        if error is sys.exc_info()[1]:
            raise
        raise error
