"""Fixtures: a fresh copy of the extensions site (tests/extensions/apps/site/main.py) per test."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

SITE_DIR = Path(__file__).parent / "apps" / "site"
_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def load_site(framework: str = "framework") -> ModuleType:
    """Import apps/site/main.py as a new module (a new app with new extension objects), built on
    framework.App, or on flask.Flask with `framework="flask"`."""
    name = f"extsite_{framework}_{uuid.uuid4().hex[:8]}"
    previous = os.environ.get("SITE_FRAMEWORK")
    os.environ["SITE_FRAMEWORK"] = framework
    spec = importlib.util.spec_from_file_location(name, SITE_DIR / "main.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    finally:
        if previous is None:
            os.environ.pop("SITE_FRAMEWORK", None)
        else:
            os.environ["SITE_FRAMEWORK"] = previous
    return module


@pytest.fixture
def site() -> Iterator[ModuleType]:
    module = load_site()
    yield module
    with module.app.app_context():
        module.db.engine.dispose()
    sys.modules.pop(module.__name__, None)


def csrf_token(html: str) -> str:
    """The CSRF token of the login form in a page."""
    match = _TOKEN.search(html)
    assert match, html
    return match.group(1)
