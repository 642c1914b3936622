"""Standard-library modules that werkzeug (and what it imports) loads at import but only uses inside functions.

`import framework` registers these as modules whose body runs on first attribute lookup, so a
worker that never builds a UUID route, a "did you mean" routing hint or an e-mail style date does
not pay for them (uuid calls platform.system() at import; email.utils pulls socket, random,
calendar, locale and the e-mail charset tables; bz2 and lzma come with shutil): about a tenth of a
small app's cold start. Likewise what only printing a traceback needs (traceback, which logging
imports, and its linecache, tokenize and textwrap), shutil (tempfile's, for spooled uploads that
outgrow memory) and what only werkzeug's file, password and Basic-auth helpers use (mimetypes,
pkgutil, secrets, hmac, base64): another 5%.
After the first lookup the module is exactly what a normal import gives. Set
FRAMEWORK_EAGER_WERKZEUG=1 to turn this off (the same switch as the werkzeug package deferral).
"""

from __future__ import annotations

import importlib
import sys
import threading
import typing as t
from importlib.util import find_spec, module_from_spec

# Only modules that every importer on our load path binds with a plain `import x` (a `from x import y`
# would run the body at once, gaining nothing) and touches only inside functions. Each maps to the C
# extension it needs, or None: shutil probes `import bz2` / `import lzma` to learn whether those
# archive formats work, so they are deferred only when the extension is there and the probe's answer
# stays true.
DEFERRED: dict[str, str | None] = {
    "uuid": None, "difflib": None, "email.utils": None, "bz2": "_bz2", "lzma": "_lzma",
    "traceback": None, "linecache": None, "tokenize": None, "textwrap": None, "shutil": None,
    "mimetypes": None, "pkgutil": None, "secrets": None, "hmac": None, "base64": None,
}


def defer_module(name: str) -> bool:
    """Register `name` (not yet imported) so its body runs on first attribute lookup; True if done."""
    if name in sys.modules:
        return False
    parent_name, _, child = name.rpartition(".")
    parent = importlib.import_module(parent_name) if parent_name else None
    spec = find_spec(name)
    if spec is None or spec.loader is None or spec.submodule_search_locations is not None:
        return False  # only plain modules: a package's submodule lookups would need more care
    module = module_from_spec(spec)
    lock = threading.RLock()  # gthread workers: a second thread waits until the body has run
    state = {"done": False, "running": False}

    def run_body(attr: str) -> t.Any:
        if attr == "__path__":  # "is this a package?" probes from the import system
            raise AttributeError(f"module {name!r} has no attribute {attr!r}")
        with lock:
            if not state["done"] and not state["running"]:
                state["running"] = True
                try:
                    spec.loader.exec_module(module)  # type: ignore[union-attr]
                finally:
                    state["running"] = False
                state["done"] = True
                if module.__dict__.get("__getattr__") is run_body:
                    del module.__dict__["__getattr__"]
        try:
            return module.__dict__[attr]
        except KeyError:
            raise AttributeError(f"module {name!r} has no attribute {attr!r}") from None

    module.__getattr__ = run_body  # type: ignore[method-assign]
    sys.modules[name] = module
    if parent is not None:
        # `import email.utils` then `email.utils.x`: the import system sets this only when it loads.
        setattr(parent, child, module)
    return True


def defer_stdlib() -> None:
    """Defer every module in DEFERRED that nobody has imported yet."""
    for name, extension in DEFERRED.items():
        if extension is None or find_spec(extension) is not None:
            defer_module(name)
