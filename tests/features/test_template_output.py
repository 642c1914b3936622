"""What the app's templates print is what jinja2 prints: the framework's escape for autoescaped output and
its `title` filter give jinja2's and markupsafe's results (same text, same types) for every kind of value."""

from __future__ import annotations

import enum
import random
import string
import typing as t

import jinja2
import markupsafe
import pytest
from jinja2.filters import do_title
from markupsafe import Markup

from framework import App, render_template_string, stream_template_string
from framework.templating import _escape, _title


class Color(enum.IntEnum):
    RED = 1


class Html:
    def __html__(self) -> str:
        return "<b>mine</b>"

    def __str__(self) -> str:
        return "<not used>"


class Text(str):
    def __str__(self) -> str:
        return "<sub>"


VALUES: list[t.Any] = [
    "plain", "", "<script>alert('x') & \"y\"</script>", "café ∑ 😀", 0, 7, -42, 10**30, True, False, None,
    1.5, float("nan"), Color.RED, Markup("<i>safe</i>"), Html(), Text("<t>"), b"<bytes>", ["<a>", 1], {"k": "<v>"},
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_escape_is_markupsafes(value: t.Any) -> None:
    ours, theirs = _escape(value), markupsafe.escape(value)
    assert type(ours) is type(theirs) is Markup
    assert str(ours) == str(theirs)


WORDS = ["hello world", "they're bill's friends", "x-ray (b)[c]{d}<e>", "  lead\ttab\nnew", "3rd ITEM", "MiXeD",
         "ǆemal", "straße", "İstanbul", "ﬁne art", "ŉ x", "", "-", "a\x1cb\x1fc", "a\u2003b"]


def test_title_is_jinjas() -> None:
    rng = random.Random(14)
    letters_and_marks = ["a", "B", "z", "Q", "'", "3", " ", "-", "(", "[", "{", "<", "\x1c", "\t", ".", "_", "é"]
    samples = [
        *WORDS,
        *("".join(rng.choice(string.printable) for _ in range(rng.randint(0, 16))) for _ in range(3000)),
        *("".join(rng.choice(letters_and_marks) for _ in range(rng.randint(0, 10))) for _ in range(3000)),
    ]
    for text in samples:
        assert _title(text) == do_title(text), repr(text)
    assert _title(Markup("<b>hi there</b>")) == do_title(Markup("<b>hi there</b>"))


SOURCE = (
    "{% for v in values %}[{{ v }}|{{ v|e }}|{{ v|string|title }}]{% endfor %}"
    "{% set joined %}{{ values[2] }}{{ values[14] }}{% endset %}{{ joined }}"
    "{% macro m(x) %}<{{ x }}>{% endmacro %}{{ m(values[2]) }}{{ caller_test }}"
)


def test_a_template_prints_what_plain_jinja2_prints() -> None:
    app = App(__name__)
    plain = jinja2.Environment(autoescape=True)
    expected = plain.from_string(SOURCE).render(values=VALUES, caller_test="<&>")
    with app.test_request_context("/"):
        assert render_template_string(SOURCE, values=VALUES, caller_test="<&>") == expected
        assert "".join(stream_template_string(SOURCE, values=VALUES, caller_test="<&>")) == expected
    assert "&lt;script&gt;" in expected


def test_an_app_title_filter_replaces_the_builtin() -> None:
    app = App(__name__)
    app.add_template_filter(lambda s: f"T({s})", "title")
    with app.test_request_context("/"):
        assert render_template_string("{{ 'a b'|title }}") == "T(a b)"


class Obj:
    name = "<obj attr>"
    items = "obj items attr"

    def __getitem__(self, key: str) -> str:
        return f"item {key}"


class DictSub(dict):  # type: ignore[type-arg]
    name = "class attribute wins over the key"


ATTR_VALUES: list[t.Any] = [
    {"name": "<d>", "price": 3}, {"price": 1}, {"name": None}, {"items": "key named like a method"},
    {"get": 1, "name": {"name": "nested"}}, DictSub(name="key"), Obj(), "text", 5, None, [1, 2], {1: "int"},
    Markup("<m>"),
]
ATTR_SOURCE = (
    "{% macro show(p) %}({{ p.name }}/{{ p.items is defined }}/{{ p.get is defined }}){% endmacro %}"
    "{% for v in values %}[{{ v.name }}|{{ v.price }}|{{ v.name.name }}|{{ v.items is callable }}|"
    "{{ v.missing is defined }}|{{ v.name|string|title }}|{{ show(v) }}]{% endfor %}"
    "{% set first = values[0] %}{{ first.name }}{% for k, w in pairs %}{{ k }}={{ w.name }};{% endfor %}"
)


@pytest.mark.parametrize("undefined", [jinja2.Undefined, jinja2.ChainableUndefined])
def test_attribute_lookups_print_what_plain_jinja2_prints(undefined: type) -> None:
    app = App(__name__)
    app.jinja_options = {"undefined": undefined}
    plain = jinja2.Environment(autoescape=True, undefined=undefined)
    pairs = [(i, v) for i, v in enumerate(ATTR_VALUES)]
    for values in (ATTR_VALUES, [v for v in ATTR_VALUES if isinstance(v, dict) and "name" in v or isinstance(v, Obj)]):
        expected = _rendered(lambda values=values: plain.from_string(ATTR_SOURCE).render(values=values, pairs=pairs))
        with app.test_request_context("/"):
            assert _rendered(lambda values=values: render_template_string(ATTR_SOURCE, values=values, pairs=pairs)) == expected
    assert "&lt;d&gt;" in expected[1] and "class attribute wins" in expected[1]


def _rendered(render: t.Callable[[], str]) -> tuple[t.Any, str]:
    try:
        return ("ok", render())
    except jinja2.UndefinedError as e:
        return (type(e), str(e))


def test_strict_undefined_raises_alike() -> None:
    app = App(__name__)
    app.jinja_options = {"undefined": jinja2.StrictUndefined}
    plain = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    source = "{% for v in values %}{{ v.name }}{% endfor %}"
    with pytest.raises(jinja2.UndefinedError) as theirs:
        plain.from_string(source).render(values=[{"name": 1}, {"other": 2}])
    with app.test_request_context("/"), pytest.raises(jinja2.UndefinedError) as ours:
        render_template_string(source, values=[{"name": 1}, {"other": 2}])
    assert str(ours.value) == str(theirs.value)


def test_a_render_context_knows_the_globals_keys_jinja2_would_give_it() -> None:
    app = App(__name__)
    app.jinja_env.globals["site"] = "<s>"
    template = app.jinja_env.from_string("{{ site }}{{ x }}", globals={"local_global": 1})
    with app.test_request_context("/"):
        ours = template.new_context({"x": 1})
        theirs = jinja2.Template.new_context(template, {"x": 1})
    assert ours.globals_keys == theirs.globals_keys == set(template.globals)
    assert ours.parent == theirs.parent
