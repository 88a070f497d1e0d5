"""Find, read and compile webui instruction templates (the ``format`` choices of its Training tab).

Takes a template name and the webui's ``user_data/instruction-templates`` folder; gives back the jinja text
(as webui modules/models_settings.py ``load_template_by_name`` finds it, 1dcde41d) and a compiled template
that renders like transformers' ``apply_chat_template(tokenize=False)``. Used by templates/chat.py.
jinja2 and pyyaml (the optional ``tokenize`` extra) are imported inside functions.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from discord_echo.core.errors import ConfigError, EchoError

# Search order of webui utils.TEMPLATE_EXTENSIONS (JINJA_EXTENSIONS + YAML_EXTENSIONS).
TEMPLATE_SUFFIXES = (".jinja", ".jinja2", ".yaml", ".yml")
INSTALL_HINT = "install the optional packages: pip install 'discord-echo[tokenize]'"


class ChatTemplateError(EchoError):
    """A chat template cannot render a conversation (jinja error, or a shape the trainer cannot mask)."""

    def __init__(self, template: str, reason: str):
        self.template, self.reason = template, reason
        super().__init__(f"chat template {template}: {reason}")


def available_instruction_templates(folder: Path) -> list[str]:
    """Template names in a webui ``instruction-templates`` folder (as its Format dropdown lists them)."""
    if not Path(folder).is_dir():
        return []
    return sorted({p.stem for p in Path(folder).iterdir() if p.suffix in TEMPLATE_SUFFIXES and p.is_file()})


def read_instruction_template(name: str, folder: Path | None) -> str:
    """The jinja text of a webui instruction template, found as webui ``load_template_by_name`` finds it.

    ``.jinja``/``.jinja2`` files are the template; YAML files hold it under ``instruction_template``
    (a file that is not valid YAML is taken as raw jinja, as the webui does). Old ``turn_template`` files
    are refused: the webui converts them, this module does not.
    """
    if folder is None:
        raise ConfigError("instruction_templates_dir", None, f"needed to find the instruction template {name!r}")
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError("instruction_templates_dir", str(folder), "folder not found")
    if not name or Path(name).name != name or name in (".", ".."):
        raise ConfigError("template", name, "must be a template name, not a path")
    path = next((folder / f"{name}{s}" for s in TEMPLATE_SUFFIXES if (folder / f"{name}{s}").is_file()), None)
    if path is None:
        available = ", ".join(available_instruction_templates(folder)) or "none"
        raise ConfigError("template", name, f"no such instruction template in {folder} (available: {available})")
    text = path.read_text(encoding="utf-8")
    template = text if path.suffix in (".jinja", ".jinja2") else _template_from_yaml(path, text)
    if not template.strip():
        raise ConfigError("template", name, f"{path} holds an empty template")
    return template


def _template_from_yaml(path: Path, text: str) -> str:
    try:
        import yaml
    except ImportError as exc:
        raise ConfigError("template", str(path), f"reading YAML templates needs pyyaml; {INSTALL_HINT}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return text  # webui load_template_by_name: unparsable YAML is used as a raw jinja template
    if not isinstance(data, dict):
        raise ConfigError("template", str(path), "expected a YAML mapping with an 'instruction_template' key")
    if "instruction_template" in data:
        return str(data["instruction_template"] or "")
    if "turn_template" in data:
        raise ConfigError(
            "template",
            str(path),
            "old-style 'turn_template' files are not supported; use a template with 'instruction_template'",
        )
    raise ConfigError("template", str(path), "has no 'instruction_template' key")


def compile_template(template_text: str, label: str) -> Any:
    """Compile with the environment transformers uses for chat templates.

    Same settings as transformers 5 ``utils/chat_template_utils._cached_compile_jinja_template``: sandboxed,
    trim_blocks and lstrip_blocks, loop controls, ``{% generation %}`` blocks, ``tojson`` without HTML
    escaping, ``raise_exception`` and ``strftime_now``. Special-token variables (``bos_token``) are not
    defined without a tokenizer and render empty.
    """
    try:
        import jinja2
        from jinja2 import nodes
        from jinja2.ext import Extension, loopcontrols
        from jinja2.sandbox import ImmutableSandboxedEnvironment
    except ImportError as exc:
        raise ConfigError("template", label, f"rendering a named template needs jinja2; {INSTALL_HINT}") from exc

    class GenerationBlock(Extension):
        """``{% generation %}...{% endgeneration %}`` renders its body (transformers tracks it for masks)."""

        tags = {"generation"}

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

        def _body(self, caller: Callable[[], str]) -> str:
            return caller()

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    def tojson(
        value: Any,
        ensure_ascii: bool = False,
        indent: int | None = None,
        separators: Any = None,
        sort_keys: bool = False,
    ) -> str:
        return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[GenerationBlock, loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    try:
        return env.from_string(template_text)
    except jinja2.exceptions.TemplateError as exc:
        raise ChatTemplateError(label, f"is not a valid jinja template: {exc}") from exc


def render_template(compiled: Any, label: str, messages: list[dict[str, Any]], add_generation_prompt: bool) -> str:
    """Render a ``compile_template`` result for one conversation."""
    with template_errors(label):
        return render_compiled(compiled, {"messages": messages, "add_generation_prompt": add_generation_prompt})


def template_literals(compiled: Any, template_text: str) -> list[str]:
    """The string constants of a template (``'</think>'``, ``'<|im_start|>'``...), in the order they appear.

    Templates that treat a message differently by what it says test its text against these; row layouts are
    probed with them (templates/row_layout.py).
    """
    from jinja2 import nodes

    tree = compiled.environment.parse(template_text)
    return list(dict.fromkeys(node.value for node in tree.find_all(nodes.Const) if isinstance(node.value, str)))


def render_compiled(compiled: Any, variables: dict[str, Any]) -> str:
    """``compiled.render(**variables)``: the same text and errors, without re-reading the template's globals.

    ``Template.render`` merges the template's globals (a ChainMap over the environment's) into a new dict and
    a new key set on every call: a third of the time of a short chat row, which the builder renders by the
    thousand. Here they are flattened once per template and passed with the variables as the context's
    shared data, as jinja2's own ``Template.new_context(shared=True)`` takes them.
    """
    from jinja2.runtime import new_context

    flat = getattr(compiled, "_discord_echo_globals", None)
    if flat is None:
        flat = dict(compiled.globals)
        compiled._discord_echo_globals = flat
    context = new_context(compiled.environment, compiled.name, compiled.blocks, {**flat, **variables}, True, flat)
    try:
        return compiled.environment.concat(compiled.root_render_func(context))  # type: ignore[no-any-return]
    except Exception:  # noqa: BLE001 - jinja2's own handler re-raises it with the template's line numbers
        compiled.environment.handle_exception()
        raise


@contextmanager
def template_errors(label: str) -> Iterator[None]:
    """Turn a template's failure on a conversation into ``ChatTemplateError``.

    jinja2 raises TemplateError for ``raise_exception(...)`` (templates that refuse, say, a system message
    or turns that do not alternate) and undefined values, TypeError for bad operations inside the template.
    """
    from jinja2.exceptions import TemplateError

    try:
        yield
    except (TemplateError, TypeError) as exc:
        raise ChatTemplateError(label, f"cannot render this conversation: {exc}") from exc
