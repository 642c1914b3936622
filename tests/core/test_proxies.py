"""The context proxies (framework.globals) behave as werkzeug's LocalProxy over the same context variable:
same values and errors for attribute and item access, `in`, assignment, and the same unbound error."""

from __future__ import annotations

import typing as t

import pytest
from werkzeug.local import LocalProxy

from framework import App, g, request, session
from framework import globals as fg

OPERATIONS: dict[str, t.Callable[[t.Any], t.Any]] = {
    "getattr": lambda p: p.get,
    "missing attr": lambda p: p.no_such_attribute,
    "getitem": lambda p: p["k"],
    "missing item": lambda p: p["missing"],
    "contains": lambda p: ("k" in p, "missing" in p),
    "setattr": lambda p: setattr(p, "new_attr", 1),
    "setitem": lambda p: p.__setitem__("k2", "v2"),
    "bool": lambda p: bool(p),
    "repr": lambda p: repr(p)[:1],
}


def _outcome(op: t.Callable[[t.Any], t.Any], proxy: t.Any) -> tuple[t.Any, ...]:
    try:
        value = op(proxy)
    except Exception as e:
        return (type(e), str(e))
    return ("ok", value if not callable(value) else getattr(value, "__name__", "callable"))


def _werkzeug_twin(proxy: t.Any) -> t.Any:
    local = object.__getattribute__(proxy, "_LocalProxy__wrapped")
    return LocalProxy(local, {id(g): "g", id(request): "request", id(session): "session"}.get(id(proxy)),
                      unbound_message=fg._no_app_msg if local is fg._cv_app else fg._no_req_msg)


@pytest.mark.parametrize("op", sorted(OPERATIONS))
@pytest.mark.parametrize("name", ["g", "session"])
def test_operations_match_werkzeugs_proxy(op: str, name: str) -> None:
    app = App(__name__)
    app.secret_key = "a-long-random-and-unguessable-test-key"
    proxy = {"g": g, "session": session}[name]
    twin = _werkzeug_twin(proxy)
    assert type(proxy) is not LocalProxy and isinstance(proxy, LocalProxy) and type(proxy).__name__ == "LocalProxy"
    assert _outcome(OPERATIONS[op], proxy) == _outcome(OPERATIONS[op], twin)  # unbound
    for target in (proxy, twin):
        with app.test_request_context("/"):
            if name == "g":
                g.k = "v"
            else:
                session["k"] = "v"
            results = [_outcome(OPERATIONS[op], target)]
            results.append(sorted(vars(fg.app_ctx.g)) if name == "g" else sorted(session))
        if target is proxy:
            ours = results
        else:
            assert ours == results


def test_request_attributes_and_missing_ones() -> None:
    app = App(__name__)
    with app.test_request_context("/p?a=1"):
        twin = _werkzeug_twin(request)
        assert request.path == twin.path == "/p"
        assert request.args["a"] == twin.args["a"] == "1"
        with pytest.raises(AttributeError):
            request.nope  # noqa: B018
    with pytest.raises(RuntimeError, match="outside of request context"):
        request.path  # noqa: B018
