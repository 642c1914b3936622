"""Class-based views: View and MethodView."""

from __future__ import annotations

import functools

from framework import App, request
from framework.views import MethodView, View, http_method_funcs


def test_view_dispatch_and_attributes() -> None:
    app = App(__name__)

    class Greeting(View):
        """Says hello."""

        methods = ["GET", "POST"]

        def __init__(self, greeting: str) -> None:
            self.greeting = greeting

        def dispatch_request(self, name: str) -> str:
            return f"{self.greeting} {name} via {request.method}"

    view = Greeting.as_view("greet", "Hi")
    assert view.__name__ == "greet" and view.__doc__ == "Says hello." and view.view_class is Greeting
    assert view.methods == ["GET", "POST"] and view.__module__ == __name__
    app.add_url_rule("/hi/<name>", view_func=view)
    client = app.test_client()
    assert client.get("/hi/ada").text == "Hi ada via GET"
    assert client.post("/hi/ada").text == "Hi ada via POST"
    assert client.put("/hi/ada").status_code == 405


def test_init_every_request() -> None:
    app = App(__name__)
    created: list[object] = []

    class Counter(View):
        def __init__(self) -> None:
            created.append(self)
            self.count = 0

        def dispatch_request(self) -> str:
            self.count += 1
            return str(self.count)

    class SharedCounter(Counter):
        init_every_request = False

    app.add_url_rule("/each", view_func=Counter.as_view("each"))
    app.add_url_rule("/shared", view_func=SharedCounter.as_view("shared"))
    client = app.test_client()
    assert [client.get("/each").text for _ in range(2)] == ["1", "1"]
    assert len(created) == 3  # one shared instance at as_view time, two per-request ones
    assert [client.get("/shared").text for _ in range(2)] == ["1", "2"]
    assert len(created) == 3


def test_decorators_applied_in_order() -> None:
    app = App(__name__)

    def tag(label: str):
        def decorator(f):
            @functools.wraps(f)
            def wrapper(**kwargs):
                return f"{label}({f(**kwargs)})"

            return wrapper

        return decorator

    class Wrapped(View):
        decorators = [tag("inner"), tag("outer")]

        def dispatch_request(self) -> str:
            return "view"

    app.add_url_rule("/w", view_func=Wrapped.as_view("w"))
    assert app.test_client().get("/w").text == "outer(inner(view))"


def test_method_view_methods_and_inheritance() -> None:
    app = App(__name__)

    class Items(MethodView):
        def get(self) -> str:
            return "list"

        def post(self) -> str:
            return "created"

    class MoreItems(Items):
        def delete(self) -> str:
            return "deleted"

    class Explicit(MethodView):
        methods = ["GET"]

        def get(self) -> str:
            return "g"

        def post(self) -> str:
            return "never routed"

    assert Items.methods == {"GET", "POST"}
    assert MoreItems.methods == {"GET", "POST", "DELETE"}
    assert Explicit.methods == ["GET"]
    app.add_url_rule("/items", view_func=MoreItems.as_view("items"))
    app.add_url_rule("/explicit", view_func=Explicit.as_view("explicit"))
    client = app.test_client()
    assert client.get("/items").text == "list"
    assert client.post("/items").text == "created"
    assert client.delete("/items").text == "deleted"
    assert client.put("/items").status_code == 405
    head = client.head("/items")
    assert head.status_code == 200 and head.data == b"" and head.headers["Content-Length"] == "4"
    assert client.post("/explicit").status_code == 405
    assert http_method_funcs == frozenset({"get", "post", "head", "options", "delete", "put", "trace", "patch"})


def test_method_view_with_url_values_and_provide_automatic_options() -> None:
    app = App(__name__)

    class User(MethodView):
        provide_automatic_options = False

        def get(self, user_id: int) -> str:
            return f"user {user_id}"

        def options(self, user_id: int) -> str:
            return "custom options"

    app.add_url_rule("/users/<int:user_id>", view_func=User.as_view("user"))
    client = app.test_client()
    assert client.get("/users/3").text == "user 3"
    assert client.options("/users/3").text == "custom options"


def test_unimplemented_view_is_a_500() -> None:
    app = App(__name__)

    class Nothing(View):
        pass

    app.add_url_rule("/n", view_func=Nothing.as_view("n"))
    assert app.test_client().get("/n").status_code == 500
