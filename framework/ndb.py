"""google-cloud-ndb wired into the app: one client per process, an ndb context around every app context.

`init_app` adds a hook to `App.context_hooks`, so requests, CLI commands, warmup and event handlers all
run inside `client.context()` without user code. Config `NDB_CONTEXT`: `True` always, `False` never
(opt-out), unset/`None` ("auto") only once `google.cloud.ndb` has been imported by the app. Auto mode
keeps apps that never touch ndb free of any google.cloud import (cold start) and of any per-request cost:
the hook is only added once NDB_CONTEXT is written or ndb is imported (`init_app`). Nothing here imports
google.cloud at module level.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import threading
import weakref
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, NamedTuple

from .flags import config_flag

if TYPE_CHECKING:
    from google.cloud import ndb

    from .app import App

logger = logging.getLogger(__name__)

_NO_CONTEXT: AbstractContextManager[None] = contextlib.nullcontext()
_lock = threading.Lock()
_clients: dict[ClientSettings, ndb.Client] = {}
_failures: dict[ClientSettings, BaseException] = {}
_global_caches: dict[str, ndb.RedisCache] = {}


class ClientSettings(NamedTuple):
    """What identifies one ndb client: project, database, namespace and the emulator it talks to."""

    project: str | None
    database: str | None
    namespace: str | None
    emulator_host: str | None


def client_settings(config: Mapping[str, Any] | None = None) -> ClientSettings:
    """Client settings from app config, falling back to the environment Google's tools set.

    Project: `NDB_PROJECT` (config, then env), `DATASTORE_PROJECT_ID`, `DATASTORE_DATASET`,
    `GOOGLE_CLOUD_PROJECT`, else ndb's own detection. `NDB_DATABASE` and `NDB_NAMESPACE` likewise.
    """
    config = config or {}
    env = os.environ
    project = (
        config.get("NDB_PROJECT") or env.get("NDB_PROJECT") or env.get("DATASTORE_PROJECT_ID")
        or env.get("DATASTORE_DATASET") or env.get("GOOGLE_CLOUD_PROJECT")
    )
    return ClientSettings(
        project=project or None,
        database=config.get("NDB_DATABASE") or env.get("NDB_DATABASE") or None,
        namespace=config.get("NDB_NAMESPACE") or env.get("NDB_NAMESPACE") or None,
        emulator_host=env.get("DATASTORE_EMULATOR_HOST") or None,
    )


def get_client(config: Mapping[str, Any] | None = None) -> ndb.Client:
    """The process-wide ndb client for these settings, created (thread-safely) on first use.

    A process normally has one; settings that differ (another database, say) get one each.
    Against the emulator (`DATASTORE_EMULATOR_HOST`) it uses anonymous credentials, so no Google login
    or metadata server is needed; otherwise credentials come from the environment (ADC), or from
    config `NDB_CREDENTIALS` when given.
    """
    config = config or {}
    return _client_for(client_settings(config), config)


def _client_for(settings: ClientSettings, config: Mapping[str, Any]) -> ndb.Client:
    client = _clients.get(settings)
    if client is not None:
        return client
    with _lock:
        client = _clients.get(settings)
        if client is None:
            client = _clients[settings] = _create_client(settings, config.get("NDB_CREDENTIALS"))
    return client


def _create_client(settings: ClientSettings, credentials: Any) -> ndb.Client:
    from google.cloud import ndb  # cold start: google.cloud

    if credentials is None and settings.emulator_host:
        from google.auth.credentials import AnonymousCredentials  # cold start: google.auth

        credentials = AnonymousCredentials()
    return ndb.Client(
        project=settings.project, namespace=settings.namespace,
        credentials=credentials, database=settings.database,
    )


def init_app(app: App) -> None:
    """Arrange for an ndb context around every app context of `app` (see the module docstring).

    The hook is added once it can matter: at once if NDB_CONTEXT is set or ndb is imported, else when
    either happens (a config write, an import). Until then an app that never touches ndb pays nothing
    per request, not even the hook's call.
    """
    app.config.watch("NDB_CONTEXT", functools.partial(_arm_if_needed, app))
    if not _arm_if_needed(app):
        with _arming:
            _dormant.add(app)
            if _ndb_import_watcher not in sys.meta_path:
                sys.meta_path.insert(0, _ndb_import_watcher)
        if _NDB_MODULE in sys.modules:  # imported meanwhile, by another thread
            _arm_dormant()


def _arm_if_needed(app: App) -> bool:
    """Add `app`'s hook if NDB_CONTEXT is set or ndb is imported; whether it has it."""
    if app.config.get("NDB_CONTEXT") is None and _NDB_MODULE not in sys.modules:
        return False
    _arm(app)
    return True


def _arm_dormant() -> None:
    with _arming:
        apps = list(_dormant)
    for app in apps:
        _arm(app)


def _arm(app: App) -> None:
    with _arming:
        if app in _armed:
            return
        _armed.add(app)
        _dormant.discard(app)
        app.context_hooks.append(functools.partial(context_hook, app))


class _NdbImportWatcher:
    """A meta path entry that finds nothing: it notes the first import of google.cloud.ndb, arms the
    dormant apps' hooks, and takes itself off the path."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if fullname == _NDB_MODULE:
            with contextlib.suppress(ValueError):
                sys.meta_path.remove(self)
            _arm_dormant()
        return None


_NDB_MODULE = "google.cloud.ndb"
_ndb_import_watcher = _NdbImportWatcher()
_dormant: weakref.WeakSet[App] = weakref.WeakSet()
_armed: weakref.WeakSet[App] = weakref.WeakSet()
# Not `_lock`: the first import of ndb, which arms apps, can happen while `_lock` is held (get_client).
_arming = threading.Lock()


def context_hook(app: App) -> AbstractContextManager[Any]:
    """What to enter when an app context of `app` is pushed: an ndb context, or nothing.

    Nothing when the app opted out, when ndb is unused (auto mode and not imported), or when this
    thread already runs inside an ndb context (nested app contexts share the outer one).
    """
    config = app.config
    if config.get("NDB_CONTEXT") is None and _NDB_MODULE not in sys.modules:
        return _NO_CONTEXT  # auto mode, ndb unused (an app armed before NDB_CONTEXT went back to None)
    mode = config_flag(config, "NDB_CONTEXT")
    if mode is False or (mode is None and "google.cloud.ndb" not in sys.modules):
        return _NO_CONTEXT
    from google.cloud.ndb import context as context_module  # cold start: google.cloud

    if context_module.get_context(False) is not None:
        return _NO_CONTEXT
    settings = client_settings(config)
    if mode is None:
        if settings in _failures:
            return _NO_CONTEXT
        try:
            client = _client_for(settings, config)
        except Exception as exc:  # auto mode: the app imports ndb but has no datastore to talk to
            _note_failure(settings, exc)
            return _NO_CONTEXT
    else:
        client = _client_for(settings, config)
    return client.context(**context_options(config))


def ndb_context(app: App | None = None) -> AbstractContextManager[Any]:
    """An ndb context with `app`'s settings (e.g. for a thread you start); a no-op inside one already."""
    from google.cloud.ndb import context as context_module  # cold start: google.cloud

    if context_module.get_context(False) is not None:
        return _NO_CONTEXT
    config = app.config if app is not None else {}
    return get_client(config).context(**context_options(config))


def _note_failure(settings: ClientSettings, exc: BaseException) -> None:
    """Remember (not retried in this process) and log once why auto mode runs without ndb contexts."""
    with _lock:
        if settings in _failures:
            return
        _failures[settings] = exc
    logger.warning(
        "google.cloud.ndb is imported but no ndb client could be created (%s: %s); requests run "
        "without an ndb context. Set DATASTORE_EMULATOR_HOST or Google credentials, or NDB_CONTEXT=False.",
        type(exc).__name__, exc,
    )


def context_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for `client.context()`: caches and data format from config.

    `NDB_USE_CACHE=False` turns the in-context cache off; `NDB_CACHE_POLICY` (bool or key -> bool)
    overrides it. `REDIS_CACHE_URL` (config or env) enables ndb's Redis global cache, with
    `NDB_GLOBAL_CACHE_POLICY` and `NDB_GLOBAL_CACHE_TIMEOUT` (seconds) to tune it. `NDB_LEGACY_DATA`
    is passed through (default True, like ndb).
    """
    options: dict[str, Any] = {"legacy_data": config_flag(config, "NDB_LEGACY_DATA") is not False}
    policy = config.get("NDB_CACHE_POLICY")
    if policy is None and config_flag(config, "NDB_USE_CACHE") is False:
        policy = False
    if policy is not None:
        options["cache_policy"] = policy
    url = config.get("REDIS_CACHE_URL") or os.environ.get("REDIS_CACHE_URL")
    if url:
        options["global_cache"] = redis_cache(url)
        if config.get("NDB_GLOBAL_CACHE_POLICY") is not None:
            options["global_cache_policy"] = config["NDB_GLOBAL_CACHE_POLICY"]
        timeout = config.get("NDB_GLOBAL_CACHE_TIMEOUT")
        if timeout is not None:
            options["global_cache_timeout_policy"] = _constant(int(timeout))
    return options


def _constant(value: int) -> Callable[[Any], int]:
    return lambda key: value


def redis_cache(url: str) -> ndb.RedisCache:
    """The process-wide `ndb.RedisCache` for a Redis URL (one connection pool per URL)."""
    cache = _global_caches.get(url)
    if cache is None:
        with _lock:
            cache = _global_caches.get(url)
            if cache is None:
                import redis  # cold start: only with a Redis global cache
                from google.cloud import ndb  # cold start: google.cloud

                cache = _global_caches[url] = ndb.RedisCache(redis.from_url(url))
    return cache
