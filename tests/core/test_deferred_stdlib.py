"""The standard-library modules `import framework` defers (framework/deferred.py) stay unrun through a
first request, then behave exactly like a normal import: plain, `from` and threaded first use."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support.procs import REPO_ROOT

FIRST_REQUEST = (
    "import framework\n"
    "app = framework.App('deferred')\n"
    "@app.route('/')\n"
    "def index():\n"
    "    return 'hi'\n"
    "environ = {'REQUEST_METHOD': 'GET', 'PATH_INFO': '/', 'SERVER_NAME': 'localhost', 'SERVER_PORT': '80',\n"
    "           'wsgi.url_scheme': 'http', 'wsgi.input': __import__('io').BytesIO(), 'HTTP_HOST': 'localhost'}\n"
    "seen = []\n"
    "assert b''.join(app(environ, lambda s, h, e=None: seen.append(s))) == b'hi', seen\n"
)
# A module whose body has run holds its own names; a deferred one holds only the import system's.
NAMES = ("uuid", "difflib", "email.utils", "bz2", "lzma", "traceback", "linecache", "tokenize", "textwrap", "shutil",
         "mimetypes", "pkgutil", "secrets", "hmac", "base64")
RAN = f"{{m: ('__getattr__' not in sys.modules[m].__dict__) for m in {NAMES!r}}}"


def _run(code: str, **env: str) -> dict[str, object]:
    environ = {k: v for k, v in os.environ.items() if k != "FRAMEWORK_EAGER_WERKZEUG"} | env
    script = f"import sys, json\n{code}\nprint(json.dumps(result))"
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True,
                         env=environ, timeout=120)
    assert out.returncode == 0, out.stderr
    value = json.loads(out.stdout.strip().splitlines()[-1])
    assert isinstance(value, dict)
    return value


def test_a_first_request_runs_none_of_them() -> None:
    result = _run(FIRST_REQUEST + f"result = {RAN}")
    assert result == dict.fromkeys(NAMES, False)


def test_the_off_switch_imports_them_normally() -> None:
    result = _run(FIRST_REQUEST + f"result = {{m: m in sys.modules for m in {NAMES!r}}}\n"
                  f"result['ran'] = {RAN}", FRAMEWORK_EAGER_WERKZEUG="1")
    assert result == {**dict.fromkeys(NAMES, True), "ran": dict.fromkeys(NAMES, True)}


def test_every_way_of_using_them_works_after_deferral() -> None:
    result = _run(
        FIRST_REQUEST
        + "import uuid, difflib, email.utils, bz2, lzma, shutil\n"
        "from uuid import UUID\n"
        "from werkzeug.http import http_date, parse_date\n"
        "from werkzeug.routing import Map, Rule\n"
        "m = Map([Rule('/u/<uuid:id>', endpoint='u')]).bind('localhost')\n"
        "ep, args = m.match('/u/12345678-1234-5678-1234-567812345678')\n"
        "result = {\n"
        "    'uuid_route': str(args['id']), 'same_class': UUID is uuid.UUID is type(args['id']),\n"
        "    'parse_date': parse_date('Sun, 06 Nov 1994 08:49:37 GMT').isoformat(), 'http_date': http_date(0),\n"
        "    'close': difflib.get_close_matches('appel', ['apple']),\n"
        "    'addr': list(email.utils.parseaddr('A <a@b.test>')),\n"
        "    'missing': not hasattr(uuid, 'no_such_name'),\n"
        "    'archives': shutil._BZ2_SUPPORTED and shutil._LZMA_SUPPORTED,\n"
        "    'bz2': bz2.decompress(bz2.compress(b'x')).decode(), 'lzma': lzma.decompress(lzma.compress(b'y')).decode(),\n"
        "}\n"
        # what werkzeug's helpers use the others for, then each used directly
        "import io, base64, linecache, tokenize, textwrap, pkgutil, tempfile, traceback\n"
        "from werkzeug.datastructures import Authorization, FileMultiDict\n"
        "from werkzeug.security import check_password_hash, gen_salt, generate_password_hash\n"
        "from werkzeug.utils import find_modules\n"
        "auth = Authorization.from_header('Basic ' + base64.b64encode(b'ann:pw').decode())\n"
        "hashed = generate_password_hash('pw', 'pbkdf2:sha256:1000')\n"
        "spooled = tempfile.SpooledTemporaryFile(max_size=4)\n"
        "spooled.write(b'more than four')\n"  # rolls over to a real file through shutil.copyfileobj
        "spooled.seek(0)\n"
        "files = FileMultiDict()\n"
        "files.add_file('f', io.BytesIO(b''), filename='a.png')\n"
        "result.update({\n"
        "    'basic': [auth.username, auth.password], 'salt': len(gen_salt(12)),\n"
        "    'password': check_password_hash(hashed, 'pw') and not check_password_hash(hashed, 'no'),\n"
        "    'mimetype': files['f'].content_type,\n"
        "    'modules': sorted(find_modules('framework.json')),\n"
        "    'line': linecache.getline(framework.__file__, 1).startswith('\"\"\"'),\n"
        "    'tokens': [t.string for t in tokenize.generate_tokens(io.StringIO('x = 1').readline)][:3],\n"
        "    'dedent': textwrap.dedent('  a'), 'walk': 'framework' in {m.name for m in pkgutil.iter_modules(['.'])},\n"
        "    'spooled': spooled.read().decode(), 'stack': traceback.format_stack(limit=1)[0].startswith('  File'),\n"
        f"    'ran': {RAN},\n"
        "})\n"
    )
    assert result == {
        "uuid_route": "12345678-1234-5678-1234-567812345678", "same_class": True,
        "parse_date": "1994-11-06T08:49:37+00:00", "http_date": "Thu, 01 Jan 1970 00:00:00 GMT",
        "close": ["apple"], "addr": ["A", "a@b.test"], "missing": True, "archives": True, "bz2": "x", "lzma": "y",
        "basic": ["ann", "pw"], "salt": 12, "password": True, "mimetype": "image/png",
        "modules": ["framework.json.provider", "framework.json.tag"], "line": True, "tokens": ["x", "=", "1"],
        "dedent": "a", "walk": True, "spooled": "more than four", "stack": True, "ran": dict.fromkeys(NAMES, True),
    }


def test_a_view_that_raises_is_logged_with_its_source_line() -> None:
    """The first traceback a process prints runs traceback, linecache, tokenize and textwrap for the first time; the log
    still shows the source line that raised (json's own, here)."""
    result = _run(
        "import framework\n"  # first: a process that imported logging before has these loaded already
        "import io, json, logging\n"
        "app = framework.App('deferred')\n"
        "stream = io.StringIO()\n"
        "app.logger.addHandler(logging.StreamHandler(stream))\n"
        "@app.route('/boom')\n"
        "def boom():\n"
        "    return json.loads('{')\n"
        "environ = {'REQUEST_METHOD': 'GET', 'PATH_INFO': '/boom', 'SERVER_NAME': 'localhost', 'SERVER_PORT': '80',\n"
        "           'wsgi.url_scheme': 'http', 'wsgi.input': io.BytesIO(), 'HTTP_HOST': 'localhost',\n"
        "           'wsgi.errors': io.StringIO()}\n"
        "before = {m: '__getattr__' in sys.modules[m].__dict__ for m in ('traceback', 'linecache', 'tokenize', 'textwrap')}\n"
        "seen = []\n"
        "b''.join(app(environ, lambda s, h, e=None: seen.append(s)))\n"
        "log = stream.getvalue()\n"
        "result = {'status': seen[-1], 'unrun_before': before, 'source_line': 'return _default_decoder.decode(s)' in log,\n"
        "          'error': 'json.decoder.JSONDecodeError: Expecting property name' in log}\n"
    )
    assert result == {"status": "500 INTERNAL SERVER ERROR", "source_line": True, "error": True,
                      "unrun_before": {"traceback": True, "linecache": True, "tokenize": True, "textwrap": True}}


def test_threads_racing_on_first_use_all_see_the_whole_module() -> None:
    result = _run(
        FIRST_REQUEST
        + "import threading, uuid\n"
        "start = threading.Barrier(8)\n"
        "got = []\n"
        "def use():\n"
        "    start.wait()\n"
        "    got.append(uuid.UUID(int=7).int)\n"
        "threads = [threading.Thread(target=use) for _ in range(8)]\n"
        "[th.start() for th in threads]\n"
        "[th.join() for th in threads]\n"
        "result = {'got': got}\n"
    )
    assert result == {"got": [7] * 8}


def test_the_session_serializer_leaves_uuid_unrun_until_it_meets_one() -> None:
    result = _run(
        FIRST_REQUEST
        + "from framework.json.tag import TaggedJSONSerializer\n"
        "s = TaggedJSONSerializer()\n"
        "plain = s.loads(s.dumps({'n': 1, 'l': ['a'], 't': (1,)}))\n"
        "before = '__getattr__' in sys.modules['uuid'].__dict__\n"
        "import uuid\n"
        "u = uuid.UUID(int=5)\n"
        "result = {'plain': plain, 'unrun_before': before, 'same': s.loads(s.dumps({'u': u})) == {'u': u}}\n"
    )
    assert result == {"plain": {"n": 1, "l": ["a"], "t": [1]}, "unrun_before": True, "same": True}
