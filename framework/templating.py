"""Jinja2 templates: the per-app environment (built on first use), its loader, and the render functions.

Templates see `config`, `url_for`, `get_flashed_messages` and the `request`, `session` and `g` proxies as
environment globals; the core's default context processor adds the real `g` and `request` objects.
"""

from __future__ import annotations

import typing as t
from collections import ChainMap
from inspect import CO_COROUTINE
from types import FunctionType

import markupsafe
from jinja2 import BaseLoader, Template, TemplateNotFound, nodes
from jinja2 import Environment as _JinjaEnvironment
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.filters import _word_beginning_split_re, do_title
from jinja2.idtracking import VAR_LOAD_PARAMETER
from jinja2.runtime import Context
from markupsafe import Markup

from . import signals
from .flashing import get_flashed_messages
from .globals import _cv_app, _cv_request, current_app, g, request, session
from .helpers import stream_with_context
from .lazy import lazy_pattern

if t.TYPE_CHECKING:
    from jinja2.loaders import BaseLoader as _Loader

    from .app import App


#: What `getattr(d, name)` can find on a plain dict (its class's and object's attributes).
_DICT_NAMES = frozenset(dir(dict))


#: markupsafe's escaping of a str's text (C code when its speedups are built); None if that name is gone.
_escape_text: t.Callable[[str], str] | None = getattr(markupsafe, "_escape_inner", None)
_new_str = str.__new__


def _escape(value: t.Any) -> Markup:
    """`markupsafe.escape(value)`: the same Markup, built without Markup's own constructor for a plain
    str (escaped) or int (digits need no escaping), the values templates print most."""
    cls = type(value)
    if cls is str and _escape_text is not None:
        return _new_str(Markup, _escape_text(value))
    if cls is int:
        return _new_str(Markup, int.__repr__(value))
    return markupsafe.escape(value)


_split_words = _word_beginning_split_re.split
_capitalize = str.capitalize
#: In ASCII text, a letter right after a character that is neither a letter nor one of jinja2's word
#: separators: there str.title() would start a word where jinja2's `title` does not ("it's", "3rd").
_TITLE_DIFFERS = lazy_pattern(r"[^A-Za-z\-\s({\[<][A-Za-z]")


def _title(s: str) -> str:
    """jinja2's `title` filter (each word: first character upper case, the rest lower case). For ASCII
    text that is str.capitalize per word, and str.title() itself when no letter follows a non-letter
    inside a word; other text goes to jinja2 (upper() and capitalize() differ for a few letters)."""
    if type(s) is str and s.isascii():
        if _TITLE_DIFFERS.search(s) is None:
            return s.title()
        return "".join(map(_capitalize, _split_words(s)))
    return do_title(s)


class _Template(Template):
    """jinja2's Template; a new render context gets the globals copied from the two mappings of the
    template's ChainMap directly rather than through ChainMap's Python-level iteration (same dict).
    The compiled code's `escape` (what autoescaped output goes through) is `_escape`, same results."""

    @classmethod
    def _from_namespace(
        cls, environment: _JinjaEnvironment, namespace: t.MutableMapping[str, t.Any], globals: t.MutableMapping[str, t.Any]
    ) -> Template:
        if namespace.get("escape") is markupsafe.escape:
            namespace["escape"] = _escape
        return super()._from_namespace(environment, namespace, globals)

    def new_context(
        self, vars: dict[str, t.Any] | None = None, shared: bool = False, locals: t.Mapping[str, t.Any] | None = None
    ) -> Context:
        scope = self.globals
        if shared or locals or type(scope) is not ChainMap or len(scope.maps) != 2:
            return super().new_context(vars, shared, locals)
        own, inherited = scope.maps
        merged = {**inherited, **own}  # dict(ChainMap(own, inherited))
        parent = dict(merged, **(vars or {}))
        context_class = self.environment.context_class
        # jinja2's Context only takes the globals' keys (set(globals)): the merged dict has the same ones.
        keys_from = merged if context_class is Context else scope
        return context_class(self.environment, parent, self.name, self.blocks, globals=keys_from)


class _CodeGenerator(CodeGenerator):
    """jinja2's code generator; `name.attr` on a loop variable or macro parameter (always defined) is
    compiled to the item lookup `Environment.getattr` makes for a plain dict holding the key, with the
    call to `environment.getattr` kept for every other case (the same value, without a call per use)."""

    @optimizeconst
    def visit_Getattr(self, node: nodes.Getattr, frame: Frame) -> None:
        target = node.node
        if (
            not self.environment.is_async
            and type(self.environment).getattr is Environment.getattr
            and type(target) is nodes.Name
            and target.ctx == "load"
            and node.attr not in _DICT_NAMES
        ):
            ref = frame.symbols.ref(target.name)
            load = frame.symbols.find_load(ref)
            if load is not None and load[0] == VAR_LOAD_PARAMETER and not self.parameter_is_undeclared(ref):
                attr = repr(node.attr)
                self.write(
                    f"({ref}[{attr}] if type({ref}) is dict and {attr} in {ref}"
                    f" else environment.getattr({ref}, {attr}))"
                )
                return
        super().visit_Getattr(node, frame)


class Environment(_JinjaEnvironment):
    """A jinja2 environment that knows its app and, by default, loads templates through it."""

    template_class = _Template
    code_generator_class = _CodeGenerator

    def __init__(self, app: App, **options: t.Any) -> None:
        if "loader" not in options:
            options["loader"] = app.create_global_jinja_loader()
        super().__init__(**options)
        self.app = app

    def getattr(self, obj: t.Any, attribute: str) -> t.Any:
        """jinja2's `getattr` (the attribute, else the item, else undefined); `item.name` on a plain dict
        goes to the item at once instead of through a failed attribute lookup."""
        if type(obj) is dict and attribute not in _DICT_NAMES:
            try:
                return obj[attribute]
            except (TypeError, LookupError):
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


class DispatchingLoader(BaseLoader):
    """Looks for a template in the app's template folder, then in each blueprint's, in registration order."""

    def __init__(self, app: App) -> None:
        self.app = app

    def _loaders(self) -> t.Iterator[tuple[t.Any, _Loader]]:
        if self.app.jinja_loader is not None:
            yield self.app, self.app.jinja_loader
        for blueprint in self.app.iter_blueprints():
            if blueprint.jinja_loader is not None:
                yield blueprint, blueprint.jinja_loader

    def get_source(
        self, environment: _JinjaEnvironment, template: str
    ) -> tuple[str, str | None, t.Callable[[], bool] | None]:
        """The first match for `template`; with EXPLAIN_TEMPLATE_LOADING every attempt is logged."""
        explain = self.app.config.get("EXPLAIN_TEMPLATE_LOADING")
        attempts: list[str] = []
        found = None
        matches = 0
        for owner, loader in self._loaders():
            try:
                source = loader.get_source(environment, template)
            except TemplateNotFound:
                attempts.append(f"{type(owner).__name__} {getattr(owner, 'name', owner)!r}: not found")
                continue
            if found is None:
                found = source
                if not explain:
                    return found
            matches += 1
            attempts.append(f"{type(owner).__name__} {getattr(owner, 'name', owner)!r}: found {source[1]!r}")
        if explain:
            summary = "no match" if found is None else "used the first match"
            if matches > 1:
                summary += "; several loaders have this template, later ones are shadowed"
            self.app.logger.info(
                "Locating template %r (%s):\n%s", template, summary, "\n".join(f"  {line}" for line in attempts)
            )
        if found is None:
            raise TemplateNotFound(template)
        return found

    def list_templates(self) -> list[str]:
        """Every template name any loader knows."""
        names: set[str] = set()
        for _owner, loader in self._loaders():
            names.update(loader.list_templates())
        return sorted(names)


#: Flask's name for the dispatching loader.
DispatchingJinjaLoader = DispatchingLoader


def create_environment(app: App) -> Environment:
    """Build the app's jinja2 environment from `jinja_options`, with the framework's globals installed."""
    options = dict(app.jinja_options)
    options.setdefault("autoescape", app.select_jinja_autoescape)
    if "auto_reload" not in options:
        auto_reload = app.config.get("TEMPLATES_AUTO_RELOAD")
        options["auto_reload"] = bool(app.debug) if auto_reload is None else bool(auto_reload)
    environment_class = getattr(app, "jinja_environment", None) or Environment
    env = environment_class(app, **options)
    env.globals.update(
        url_for=app.url_for, get_flashed_messages=get_flashed_messages, config=app.config,
        request=request, session=session, g=g,
    )
    env.policies["json.dumps_function"] = app.json.dumps
    if env.filters.get("title") is do_title:
        env.filters["title"] = _title
    return env


def update_template_context(app: App, context: dict[str, t.Any]) -> None:
    """Add the context processors' values (app first, then blueprints outer to inner); the caller's values win.

    The app's first processor (registered by the core) supplies `g` and `request`; `session` stays a global.
    """
    explicit = dict(context)
    scopes: tuple[str | None, ...] = (None,)
    processors = app.template_context_processors
    if len(processors) > 1 or None not in processors:  # some blueprint registered processors
        req_ctx = _cv_request.get(None)
        if req_ctx is not None:
            scopes = req_ctx.request._hook_scopes()[1]
    fast = app._fast_path  # App's own ensure_sync: a plain function is called as it is
    for scope in scopes:
        for processor in processors.get(scope, ()):
            if not (fast and type(processor) is FunctionType and not processor.__code__.co_flags & CO_COROUTINE):
                processor = app.ensure_sync(processor)
            context.update(processor())
    context.update(explicit)


def _prepare(app: App, template: Template, context: dict[str, t.Any]) -> None:
    app.update_template_context(context)
    if signals.before_render_template.receivers:
        signals.before_render_template.send(
            app, _async_wrapper=app.ensure_sync, template=template, context=context
        )


def _render(app: App, template: Template, context: dict[str, t.Any]) -> str:
    _prepare(app, template, context)
    text = template.render(context)
    if signals.template_rendered.receivers:
        signals.template_rendered.send(app, _async_wrapper=app.ensure_sync, template=template, context=context)
    return text


def _stream(app: App, template: Template, context: dict[str, t.Any]) -> t.Iterator[str]:
    _prepare(app, template, context)

    def chunks() -> t.Iterator[str]:
        yield from template.generate(context)
        if signals.template_rendered.receivers:
            signals.template_rendered.send(
                app, _async_wrapper=app.ensure_sync, template=template, context=context
            )

    stream = chunks()
    if _cv_request.get(None) is not None:
        stream = stream_with_context(stream)
    return stream


def _app() -> t.Any:
    ctx = _cv_app.get(None)
    if ctx is None:
        return current_app._get_current_object()  # type: ignore[attr-defined]  # raises the unbound error
    return ctx.app


def render_template(template_name_or_list: str | Template | list[str | Template], **context: t.Any) -> str:
    """Render a template file (the first existing one of a list) with `context`."""
    app = _app()
    template = app.jinja_env.get_or_select_template(template_name_or_list)
    return _render(app, template, context)


def render_template_string(source: str, **context: t.Any) -> str:
    """Render template source text with `context` (autoescaped)."""
    app = _app()
    return _render(app, app.jinja_env.from_string(source), context)


def stream_template(template_name_or_list: str | Template | list[str | Template], **context: t.Any) -> t.Iterator[str]:
    """Render a template file piece by piece, for a streaming response (request context kept alive)."""
    app = _app()
    template = app.jinja_env.get_or_select_template(template_name_or_list)
    return _stream(app, template, context)


def stream_template_string(source: str, **context: t.Any) -> t.Iterator[str]:
    """Render template source text piece by piece, for a streaming response."""
    app = _app()
    return _stream(app, app.jinja_env.from_string(source), context)


def get_template_attribute(template_name: str, attribute: str) -> t.Any:
    """A macro or variable defined by a template, e.g. to call a macro from Python code."""
    return getattr(_app().jinja_env.get_template(template_name).module, attribute)
