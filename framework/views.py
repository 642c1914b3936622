"""Class-based views: `View` (one `dispatch_request` for all methods) and `MethodView` (one method per verb)."""

from __future__ import annotations

import typing as t

from .globals import current_app, request

F = t.TypeVar("F", bound=t.Callable[..., t.Any])

#: The handler names `MethodView` looks for, one per HTTP method.
http_method_funcs = frozenset(("get", "post", "head", "options", "delete", "put", "trace", "patch"))


class View:
    """Subclass, implement `dispatch_request`, and register `YourView.as_view("name")` as a view function."""

    #: Methods the view accepts (None: the route's default, GET).
    methods: t.ClassVar[t.Collection[str] | None] = None
    #: Whether to answer OPTIONS automatically (None: the app's default).
    provide_automatic_options: t.ClassVar[bool | None] = None
    #: Decorators applied to the generated view function, first one innermost.
    decorators: t.ClassVar[list[t.Callable[[t.Any], t.Any]]] = []
    #: Build a new instance for every request (False: one instance shared by all requests).
    init_every_request: t.ClassVar[bool] = True

    def dispatch_request(self, **kwargs: t.Any) -> t.Any:
        """Handle a request with the URL values as keyword arguments; must be overridden."""
        raise NotImplementedError(f"{type(self).__name__} must implement dispatch_request()")

    @classmethod
    def as_view(cls, name: str, *class_args: t.Any, **class_kwargs: t.Any) -> t.Callable[..., t.Any]:
        """A view function named `name` that dispatches to an instance built with the given arguments."""
        if cls.init_every_request:

            def view(**kwargs: t.Any) -> t.Any:
                instance = view.view_class(*class_args, **class_kwargs)  # type: ignore[attr-defined]
                return current_app.ensure_sync(instance.dispatch_request)(**kwargs)

        else:
            shared = cls(*class_args, **class_kwargs)

            def view(**kwargs: t.Any) -> t.Any:
                return current_app.ensure_sync(shared.dispatch_request)(**kwargs)

        for decorator in cls.decorators:
            view = decorator(view)
        view.view_class = cls  # type: ignore[attr-defined]
        view.__name__ = name
        view.__qualname__ = name
        view.__doc__ = cls.__doc__
        view.__module__ = cls.__module__
        view.methods = cls.methods  # type: ignore[attr-defined]
        view.provide_automatic_options = cls.provide_automatic_options  # type: ignore[attr-defined]
        return view


class MethodView(View):
    """Dispatch to the method named after the request's HTTP method (`get`, `post`, ...).

    `methods` is derived from the handlers the class and its bases define; HEAD falls back to `get`.
    """

    def __init_subclass__(cls, **kwargs: t.Any) -> None:
        super().__init_subclass__(**kwargs)
        if "methods" in cls.__dict__:
            return
        found: set[str] = set()
        for base in cls.__bases__:
            found.update(getattr(base, "methods", None) or ())
        found.update(name.upper() for name in http_method_funcs if callable(getattr(cls, name, None)))
        if found:
            cls.methods = found

    def dispatch_request(self, **kwargs: t.Any) -> t.Any:
        """Call the handler for the request method with the URL values."""
        handler = getattr(self, request.method.lower(), None)
        if handler is None and request.method == "HEAD":
            handler = getattr(self, "get", None)
        assert handler is not None, f"unimplemented method {request.method!r}"
        return current_app.ensure_sync(handler)(**kwargs)
