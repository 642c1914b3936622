"""Real-app shapes against Flask 3.1 in the same run: hooks, jsonify, tuples, redirects, error handlers,
form and JSON bodies, sessions, templates, and a "typical app" combining them; plus its cold start and
peak RSS. `python -m bench apps` (a shape's name after it runs just that shape, e.g. `apps session`).

Both frameworks run the same app source. Before timing, each shape's responses are compared between the
two (status, headers, body; for the session shape the signed cookie byte for byte), so a ratio always
compares the same work. Throughput is in-process WSGI calls per second of this thread's CPU time; each
round times both frameworks in alternating slices (the order flips every round) and the reported ratio
is the median of the rounds' ratios, so a noisy neighbour on the shared cores hits both sides alike.
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import time
import typing as t
from dataclasses import dataclass, field

from bench.core import cold_start_of

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.join(HERE, "app_templates")
FRAMEWORKS = {"framework": "framework", "flask": "flask"}
SECRET = "bench-only-secret-3c1f9e7a5b2d4c6e8f0a1b3c5d7e9f10"

_PRELUDE = """
from {mod} import (Blueprint, Flask, abort, g, jsonify, redirect, render_template, request, session,
                   url_for)
app = Flask("bench_{name}", template_folder={templates!r})
app.config["SECRET_KEY"] = {secret!r}
"""


@dataclass(frozen=True)
class Call:
    """One request of a shape: method, path, body, content type, cookie, and the status it must get."""

    path: str
    method: str = "GET"
    body: bytes = b""
    content_type: str | None = None
    cookie: str | None = None
    status: int = 200


@dataclass(frozen=True)
class Shape:
    """An app (source shared by both frameworks) and the requests one timed call sends, in turn."""

    source: str
    calls: tuple[Call, ...]
    target: float  # the ratio to Flask the issue asks for (a floor)
    cookie_from: str | None = None  # path whose Set-Cookie becomes the later calls' session cookie
    notes: str = ""
    exclude_headers: frozenset[str] = field(default_factory=frozenset)


FORM = b"name=Ada+Lovelace&email=ada%40example.com&age=36&agree=on"
JSON_BODY = b'{"name": "Ada", "tags": ["math", "engines"], "age": 36, "active": true}'

SHAPES: dict[str, Shape] = {
    "jsonify": Shape(
        """
@app.route("/user/<int:id>")
def user(id):
    return jsonify(id=id, name="user", active=True, roles=["admin", "dev"])
""",
        (Call("/user/42"),),
        3.0,
    ),
    "hooks": Shape(
        """
@app.before_request
def load_user():
    g.user = request.headers.get("X-User", "anonymous")

@app.after_request
def stamp(response):
    response.headers["X-Frame-Options"] = "DENY"
    return response

@app.route("/")
def index():
    return f"Hello, {g.user}!"
""",
        (Call("/"),),
        3.0,
    ),
    "tuple": Shape(
        """
@app.route("/items", methods=["GET"])
def create():
    return {"id": 7, "created": True}, 201, {"Location": "/items/7", "X-Request-Id": "abc"}
""",
        (Call("/items", status=201),),
        3.0,
    ),
    "redirect": Shape(
        """
@app.route("/old/<int:id>")
def old(id):
    return redirect(url_for("new", id=id, page=2))

@app.route("/new/<int:id>")
def new(id):
    return "new"
""",
        (Call("/old/5", status=302),),
        3.0,
    ),
    "404 handler": Shape(
        """
@app.errorhandler(404)
def not_found(e):
    return {"error": "not found", "path": request.path}, 404

@app.route("/")
def index():
    return "home"
""",
        (Call("/missing/page", status=404),),
        3.0,
    ),
    "form POST": Shape(
        """
@app.route("/signup", methods=["POST"])
def signup():
    form = request.form
    return f"{form['name']} <{form['email']}> {form.get('age', type=int)} {'agree' in form}"
""",
        (Call("/signup", "POST", FORM, "application/x-www-form-urlencoded"),),
        3.0,
    ),
    "JSON POST": Shape(
        """
@app.route("/api/things", methods=["POST"])
def things():
    data = request.get_json()
    return {"name": data["name"], "tags": len(data["tags"])}
""",
        (Call("/api/things", "POST", JSON_BODY, "application/json"),),
        3.0,
    ),
    "session": Shape(
        """
@app.route("/login")
def login():
    session["user"] = "ada"
    session["visits"] = 0
    return "in"

@app.route("/visit")
def visit():
    session["visits"] = session.get("visits", 0) + 1
    return f"{session['user']} {session['visits']}"
""",
        (Call("/visit"),),
        2.5,
        cookie_from="/login",
        notes="read + write; the cookie is checked byte for byte against Flask's",
    ),
    "template": Shape(
        """
ITEMS = [{"name": f"item number {i}", "price": i * 3, "tags": ["a", "b"]} for i in range(10)]

@app.route("/")
def page():
    return render_template("list.html", title="Catalogue", items=ITEMS)
""",
        (Call("/"),),
        2.0,
        notes="a file with a loop and filters (render_template)",
    ),
    "typical app": Shape(
        """
api = Blueprint("api", "bench_api", url_prefix="/api")

@app.before_request
def load_user():
    g.user = session.get("user")

@app.after_request
def security_headers(response):
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response

@api.before_request
def require_user():
    if g.user is None:
        abort(401)

@api.route("/items/<int:id>")
def item(id):
    return {"id": id, "name": f"item {id}", "owner": g.user}

@api.route("/items", methods=["POST"])
def add_item():
    data = request.get_json()
    session["added"] = session.get("added", 0) + 1
    return {"id": 99, "name": data["name"]}, 201

app.register_blueprint(api)

ITEMS = [{"name": f"item number {i}", "price": i * 3, "tags": ["a", "b"]} for i in range(10)]

@app.route("/login")
def login():
    session["user"] = "ada"
    return redirect(url_for("home"))

@app.route("/")
def home():
    return render_template("list.html", title=f"Hello {g.user}", items=ITEMS)
""",
        (Call("/"), Call("/api/items/3"), Call("/api/items", "POST", JSON_BODY, "application/json", status=201)),
        3.0,
        cookie_from="/login",
        notes="blueprint, before/after hooks, session, a template page, JSON API routes",
    ),
}


def build(name: str, fw: str) -> t.Any:
    """The shape's app under `fw` ("framework" or "flask")."""
    src = _PRELUDE.format(mod=FRAMEWORKS[fw], name=name.replace(" ", "_"), templates=TEMPLATES, secret=SECRET)
    ns: dict[str, t.Any] = {"__name__": f"bench_{name.replace(' ', '_')}_{fw}"}
    exec(src + SHAPES[name].source, ns)
    return ns["app"]


def _environ(call: Call, cookie: str | None) -> dict[str, t.Any]:
    environ: dict[str, t.Any] = {
        "REQUEST_METHOD": call.method, "PATH_INFO": call.path, "QUERY_STRING": "", "SCRIPT_NAME": "",
        "SERVER_NAME": "localhost", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "localhost", "HTTP_USER_AGENT": "bench", "HTTP_ACCEPT": "*/*",
        "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr, "wsgi.multithread": False,
        "wsgi.multiprocess": False, "wsgi.run_once": False, "wsgi.version": (1, 0),
    }
    if call.body:
        environ["CONTENT_LENGTH"] = str(len(call.body))
    if call.content_type:
        environ["CONTENT_TYPE"] = call.content_type
    if cookie or call.cookie:
        environ["HTTP_COOKIE"] = call.cookie or cookie
    return environ


def request(app: t.Any, call: Call, cookie: str | None = None) -> tuple[str, list[tuple[str, str]], bytes]:
    """One WSGI call: (status line, headers, body)."""
    environ = _environ(call, cookie)
    environ["wsgi.input"] = io.BytesIO(call.body)
    seen: list[t.Any] = []
    it = app(environ, lambda status, headers, exc_info=None: seen.append((status, headers)))
    try:
        body = b"".join(it)
    finally:
        close = getattr(it, "close", None)
        if close is not None:
            close()
    return seen[0][0], seen[0][1], body


def session_cookie(app: t.Any, path: str) -> str:
    """`session=<value>` from the Set-Cookie of GET `path`."""
    _, headers, _ = request(app, Call(path, status=302))
    for key, value in headers:
        if key.lower() == "set-cookie" and value.startswith("session="):
            return value.split(";", 1)[0]
    raise AssertionError(f"GET {path} set no session cookie")


def check_same(name: str, apps: dict[str, t.Any], cookies: dict[str, str | None]) -> None:
    """Both frameworks answer every call of the shape alike; raises AssertionError naming the difference.

    Retried when the two answers straddle a second (the session cookie carries a timestamp)."""
    for attempt in range(3):
        problems: list[str] = []
        for call in SHAPES[name].calls:
            answers = {fw: request(app, call, cookies[fw]) for fw, app in apps.items()}
            ours, theirs = answers["framework"], answers["flask"]
            if int(ours[0][:3]) != call.status:
                problems.append(f"{call.method} {call.path}: status {ours[0]!r}, expected {call.status}")
            if ours[0] != theirs[0] or ours[2] != theirs[2]:
                problems.append(f"{call.method} {call.path}: {ours[0]} {ours[2][:80]!r} vs Flask's {theirs[0]} {theirs[2][:80]!r}")
            if sorted(ours[1]) != sorted(theirs[1]):
                problems.append(f"{call.method} {call.path}: headers {sorted(ours[1])} vs Flask's {sorted(theirs[1])}")
        if not problems:
            return
        if attempt < 2:
            time.sleep(0.05)
    raise AssertionError(f"shape {name!r} differs from Flask: " + "; ".join(problems))


def caller(app: t.Any, shape: Shape, cookie: str | None) -> t.Callable[[], None]:
    """A no-argument function sending each of the shape's calls once; with a session cookie, each
    request carries the cookie the last response set, as a browser's would."""
    prepared = [(_environ(call, cookie), call.body) for call in shape.calls]
    jar = {"HTTP_COOKIE": cookie}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: t.Any = None) -> None:
        if cookie is not None:
            for key, value in headers:
                if key == "Set-Cookie" and value.startswith("session="):
                    jar["HTTP_COOKIE"] = value.split(";", 1)[0]

    def one() -> None:
        for base, body in prepared:
            environ = dict(base)
            if cookie is not None:
                environ["HTTP_COOKIE"] = jar["HTTP_COOKIE"]
            environ["wsgi.input"] = io.BytesIO(body)
            it = app(environ, start_response)
            for _ in it:
                pass
            close = getattr(it, "close", None)
            if close is not None:
                close()

    return one


#: This thread's CPU time: on shared, loaded cores a slice is not charged for time spent descheduled.
_clock = time.thread_time


def ratio_rounds(callers: dict[str, t.Callable[[], None]], rounds: int = 9, slice_s: float = 0.12) -> tuple[float, dict[str, float]]:
    """Median over `rounds` of framework rate / Flask rate, each round timing both in adjacent slices
    (order flipped every round); also the median calls per second of each."""
    for one in callers.values():
        for _ in range(100):
            one()
    rates: dict[str, list[float]] = {fw: [] for fw in callers}
    ratios: list[float] = []
    order = list(callers)
    for r in range(rounds):
        this_round: dict[str, float] = {}
        for fw in order if r % 2 == 0 else reversed(order):
            one = callers[fw]
            n = 0
            start = _clock()
            end = start + slice_s
            while _clock() < end:
                for _ in range(20):
                    one()
                n += 20
            this_round[fw] = n / (_clock() - start)
            rates[fw].append(this_round[fw])
        ratios.append(this_round["framework"] / this_round["flask"])
    return statistics.median(ratios), {fw: statistics.median(v) for fw, v in rates.items()}


def prepare(name: str) -> dict[str, t.Callable[[], None]]:
    """Both apps of a shape built, checked alike, and wrapped as callers."""
    shape = SHAPES[name]
    apps = {fw: build(name, fw) for fw in FRAMEWORKS}
    cookies: dict[str, str | None] = {
        fw: session_cookie(app, shape.cookie_from) if shape.cookie_from else None for fw, app in apps.items()
    }
    if shape.cookie_from and cookies["framework"] != cookies["flask"]:
        # The same second gives the same signature; one retry covers a second boundary.
        cookies = {fw: session_cookie(app, shape.cookie_from) for fw, app in apps.items()}
        if cookies["framework"] != cookies["flask"]:
            raise AssertionError(f"session cookie differs from Flask's: {cookies}")
    check_same(name, apps, cookies)
    return {fw: caller(app, shape, cookies[fw]) for fw, app in apps.items()}


#: What any Flask-compatible app with these features pays before its own code: the libraries they need
#: (werkzeug's routing and wrappers, context-local proxies, blinker's signals, jinja2 for the page, itsdangerous
#: for the session), loaded as `import framework` loads them, and the page rendered by a bare WSGI callable.
_FLOOR_SOURCE = """
import framework  # only for its deferral of werkzeug's dev server and of stdlib modules werkzeug rarely uses
import blinker, itsdangerous, jinja2, werkzeug.local, werkzeug.routing, werkzeug.wrappers
_env = jinja2.Environment(loader=jinja2.FileSystemLoader({templates!r}), autoescape=True)
ITEMS = [{{"name": f"item number {{i}}", "price": i * 3, "tags": ["a", "b"]}} for i in range(10)]

def app(environ, start_response):
    body = _env.get_template("list.html").render(title="Hello None", items=ITEMS).encode()
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]
"""

def main(argv: list[str] | None = None) -> None:
    """Print calls/s and the median ratio to Flask for each shape (or the named ones), then the typical
    app's cold start and peak RSS."""
    names = argv or list(SHAPES)
    print(f"{'shape':<13} {'framework/s':>12} {'flask/s':>10} {'ratio':>7}  target")
    for name in names:
        shape = SHAPES[name]
        ratio, rates = ratio_rounds(prepare(name))
        mark = "ok" if ratio >= shape.target else "MISSED"
        print(f"{name:<13} {rates['framework']:>12,.0f} {rates['flask']:>10,.0f} {ratio:>6.2f}x"
              f"  >= {shape.target}x {mark}")
    if argv:
        return
    shape = SHAPES["typical app"]
    sources = {}
    for fw, mod in FRAMEWORKS.items():
        sources[fw] = _PRELUDE.format(mod=mod, name="typical", templates=TEMPLATES, secret=SECRET) + shape.source
    sources["floor"] = _FLOOR_SOURCE.format(templates=TEMPLATES)
    colds = cold_start_of(sources, "/")
    wall = colds["framework"][0] / colds["flask"][0]
    cpu = colds["framework"][2] / colds["flask"][2]
    rss = colds["framework"][1] / colds["flask"][1]
    print(f"typical app cold start (import, build, GET / with its template): {colds['framework'][0]:.3f}s vs"
          f" {colds['flask'][0]:.3f}s = {wall:.2f}x (CPU {cpu:.2f}x)  <= 0.6x {'ok' if wall <= 0.6 else 'MISSED'}")
    print(f"typical app peak RSS: {colds['framework'][1]:.1f} MiB vs {colds['flask'][1]:.1f} MiB = {rss:.2f}x"
          f"  <= 0.75x {'ok' if rss <= 0.75 else 'MISSED'}")
    print(f"  floor, the libraries alone (werkzeug's routing, wrappers and local, blinker, jinja2, itsdangerous; the same"
          f" page from a bare WSGI callable): {colds['floor'][0]:.3f}s = {colds['floor'][0] / colds['flask'][0]:.2f}x Flask,"
          f" {colds['floor'][1]:.1f} MiB = {colds['floor'][1] / colds['flask'][1]:.2f}x")


if __name__ == "__main__":
    main(sys.argv[1:])
