"""Sending files: werkzeug's `send_file` / `send_from_directory` wired to the current app and request."""

from __future__ import annotations

import os
import typing as t

from werkzeug.exceptions import NotFound
from werkzeug.utils import send_file as _send_file
from werkzeug.utils import send_from_directory as _send_from_directory

from .globals import current_app, request

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Response


def _app_kwargs(kwargs: dict[str, t.Any]) -> dict[str, t.Any]:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if kwargs.get("max_age") is None:
        kwargs["max_age"] = app.get_send_file_max_age
    kwargs.update(
        environ=request.environ,
        use_x_sendfile=app.config["USE_X_SENDFILE"],
        response_class=app.response_class,
        _root_path=app.root_path,
    )
    return kwargs


def send_file(
    path_or_file: os.PathLike[str] | str | t.BinaryIO,
    mimetype: str | None = None,
    as_attachment: bool = False,
    download_name: str | None = None,
    conditional: bool = True,
    etag: bool | str = True,
    last_modified: t.Any = None,
    max_age: int | t.Callable[[str | None], int | None] | None = None,
) -> Response:
    """Send a file (path relative to the app root, or a binary file object) with conditional/Range support.

    Never pass a path that came from the user: use `send_from_directory` for those.
    """
    return _send_file(
        **_app_kwargs({
            "path_or_file": path_or_file, "mimetype": mimetype, "as_attachment": as_attachment,
            "download_name": download_name, "conditional": conditional, "etag": etag,
            "last_modified": last_modified, "max_age": max_age,
        })
    )


def send_from_directory(directory: os.PathLike[str] | str, path: os.PathLike[str] | str, **kwargs: t.Any) -> Response:
    """Send `path` from inside `directory` (relative to the app root); escapes and missing files are 404."""
    if "\x00" in os.fspath(path) or "\\" in os.fspath(path):
        raise NotFound()
    return _send_from_directory(directory, path, **_app_kwargs(kwargs))
