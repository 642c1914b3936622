"""The app logger: named after the app, with a default handler only when nothing else would log."""

from __future__ import annotations

import logging
import sys
import typing as t

from werkzeug.local import LocalProxy

from .globals import _cv_request

if t.TYPE_CHECKING:  # pragma: no cover
    from .app import App


def _errors_stream() -> t.TextIO:
    ctx = _cv_request.get(None)
    if ctx is not None:
        return ctx.request.environ["wsgi.errors"]
    return sys.stderr


wsgi_errors_stream: t.TextIO = LocalProxy(_errors_stream)  # type: ignore[assignment]
"""The WSGI server's error stream during a request, stderr otherwise."""


def has_level_handler(logger: logging.Logger) -> bool:
    """True if some handler on the logger's propagation chain takes its effective level."""
    level = logger.getEffectiveLevel()
    current: logging.Logger | None = logger
    while current is not None:
        if any(handler.level <= level for handler in current.handlers):
            return True
        if not current.propagate:
            break
        current = current.parent
    return False


default_handler = logging.StreamHandler(wsgi_errors_stream)
default_handler.setFormatter(logging.Formatter("[%(asctime)s] %(levelname)s in %(module)s: %(message)s"))


def create_logger(app: App) -> logging.Logger:
    """`logging.getLogger(app.name)`, DEBUG level in debug mode if unset, default handler if needed."""
    logger = logging.getLogger(app.name)
    if app.debug and not logger.level:
        logger.setLevel(logging.DEBUG)
    if not has_level_handler(logger):
        logger.addHandler(default_handler)
    return logger
