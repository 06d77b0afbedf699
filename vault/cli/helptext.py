"""Help as people write it, generated from the command tree: `--json` is a flag, `PATH...` is
a list of paths, `--limit N` takes a number; no Python types.

One description of the tree (``describe``) feeds three renderings: ``--help`` (``VaultCommand`` /
``VaultGroup``), the manual page (``manpage``) and the completion scripts (``completions``).
Every command's epilog carries an ``Examples:`` block: indented lines are example command lines
(``vault ...  # comment``), other paragraphs are notes.
"""

from __future__ import annotations

import shutil
import textwrap
from dataclasses import dataclass, field
from typing import Any

import typer
import typer.core
import typer.models

from ..models import KINDS, VISIBILITIES

# Metavars for value options that do not name their own; the last word of the option otherwise.
_METAVARS = {
    "--vault": "DIR", "--kind": "KIND", "--source": "SOURCE", "--tag": "TAG", "--add-tag": "TAG",
    "--untag": "TAG", "--visibility": "VISIBILITY", "--limit": "N", "--output": "FILE", "--out": "DIR",
    "--identity-file": "FILE", "--passphrase-file": "FILE", "--new-passphrase-file": "FILE",
}
_WORDS = {"file": "FILE", "dir": "DIR", "directory": "DIR", "path": "PATH", "url": "URL", "hours": "HOURS",
          "days": "DAYS", "seconds": "SECONDS", "pages": "N", "port": "PORT"}
# Static values offered by completion and shown in the manual.
VALUE_CHOICES = {"--kind": KINDS, "--visibility": VISIBILITIES}
ARGUMENT_CHOICES = {"shell": ("bash", "zsh", "fish")}
# Values only the vault knows: completed by asking `vault complete-values WHAT`.
DYNAMIC_VALUES = {"--tag": "tags", "--untag": "tags", "--add-tag": "tags"}
HELP_OPTION = ("-h, --help", "Show this help and exit.")


def _value_type(param: Any) -> str:
    """"int", "float", "path" or "str": the value type of a parameter, from its annotation."""
    import typing

    desc = getattr(param, "type_descriptor", None)
    if desc is None:  # a plain click-style parameter
        return {"integer": "int", "float": "float", "path": "path"}.get(getattr(getattr(param, "type", None), "name", ""), "str")
    if desc.is_path:
        return "path"
    ann = desc.annotation
    while typing.get_args(ann):
        inner = [a for a in typing.get_args(ann) if a is not type(None)]
        ann = inner[0] if inner else ann
        if not typing.get_args(ann):
            break
    return {int: "int", float: "float"}.get(ann, "str")


def option_metavar(param: Any) -> str:
    """The metavar of an option as shown to people; "" for flags."""
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return ""
    if param.metavar:
        return str(param.metavar)
    longs = [o for o in param.opts if o.startswith("--")]
    name = longs[0] if longs else param.opts[0]
    if name in _METAVARS:
        return _METAVARS[name]
    type_name = _value_type(param)
    if type_name == "int":
        return "N"
    last = name.lstrip("-").split("-")[-1]
    if last in _WORDS:
        return _WORDS[last]
    if type_name == "path":
        return "PATH"
    return last.upper()


def argument_metavar(param: Any) -> str:
    """``PATH``, ``[TARGET]``, ``PATH...`` or ``[ID...]`` (singular name, ``...`` for lists)."""
    base = str(param.metavar or param.name or "ARG").upper().strip("[].")
    if param.nargs != 1 and base.endswith("S") and not param.metavar:
        base = base[:-1]
    if param.nargs != 1:
        base += "..."
    return base if param.required else f"[{base}]"


@dataclass
class Param:
    names: str  # "-o, --output FILE" or "PATH..."
    help: str
    opts: list[str] = field(default_factory=list)
    metavar: str = ""
    default: str | None = None
    choices: tuple[str, ...] = ()
    dynamic: str | None = None
    is_argument: bool = False
    takes_files: bool = False


@dataclass
class Command:
    path: list[str]  # ["vault", "key", "show"]
    short: str
    description: list[str]  # paragraphs after the first line of the docstring
    usage: str
    arguments: list[Param]
    options: list[Param]
    examples: list[str]
    notes: list[str]
    children: list["Command"] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path[-1]


def _paragraphs(text: str | None) -> list[str]:
    return [p.strip("\n") for p in textwrap.dedent(text or "").split("\n\n") if p.strip()]


def split_epilog(epilog: str | None) -> tuple[list[str], list[str]]:
    """(example lines, note paragraphs) from a command's epilog."""
    examples: list[str] = []
    notes: list[str] = []
    for para in (p for p in (epilog or "").split("\n\n") if p.strip()):
        if para.strip() in ("Examples:", "Example:"):
            continue
        if para.startswith("  "):
            examples.extend(line.strip() for line in para.splitlines() if line.strip())
        else:
            notes.append(" ".join(para.split()))
    return examples, notes


def _default(param: Any) -> str | None:
    if getattr(param, "is_flag", False) or param.show_default is False or param.required:
        return None
    value = param.default
    if value is None or value == () or value == [] or callable(value) or isinstance(value, typer.models.DefaultPlaceholder):
        return None
    return str(value)


def _param(param: Any) -> Param:
    if param.param_type_name == "argument":
        mv = argument_metavar(param)
        files = _value_type(param) == "path" or (param.name or "").lower() in ("path", "paths", "dir", "directory", "dest", "src")
        return Param(mv, param.help or "", metavar=mv, is_argument=True, takes_files=files,
                     choices=ARGUMENT_CHOICES.get(param.name or "", ()),
                     dynamic="targets" if (param.name or "") == "target" else None)
    opts = list(param.opts) + list(param.secondary_opts)
    mv = option_metavar(param)
    shorts = [o for o in opts if not o.startswith("--")]
    longs = [o for o in opts if o.startswith("--")]
    names = ", ".join(shorts + longs) + (f" {mv}" if mv else "")
    long = longs[0] if longs else opts[0]
    choices = VALUE_CHOICES.get(long, ())
    if long == "--source":
        choices = source_names()
    files = bool(mv) and mv in ("FILE", "DIR", "PATH")
    return Param(names, param.help or "", opts=opts, metavar=mv, default=_default(param), choices=choices,
                 dynamic=DYNAMIC_VALUES.get(long), takes_files=files)


def source_names() -> tuple[str, ...]:
    """The sources records come from and the importers' names, for `--source` completion and the manual."""
    from importlib.metadata import entry_points

    from ..models import SOURCES

    return tuple(sorted({ep.name for ep in entry_points(group="vault.importers")} | set(SOURCES)))


def describe(cmd: Any, path: list[str], deep: bool = True) -> Command:
    """The command tree below ``cmd`` (a built typer command or group), hidden commands left out."""
    doc = _paragraphs(cmd.help)
    short = " ".join(doc[0].split()) if doc else ""
    args = [_param(p) for p in cmd.params if p.param_type_name == "argument"]
    opts = [_param(p) for p in cmd.params if p.param_type_name == "option" and not getattr(p, "hidden", False)]
    opts.append(Param(HELP_OPTION[0], HELP_OPTION[1], opts=["-h", "--help"]))
    children = []
    subs = getattr(cmd, "commands", None)
    usage = " ".join(path) + " [OPTIONS]"
    if subs is not None:
        usage += " COMMAND [ARGS]..."
        for name, sub in subs.items():
            if not getattr(sub, "hidden", False) and deep:
                children.append(describe(sub, path + [name]))
    else:
        usage += "".join(" " + a.metavar for a in args)
    examples, notes = split_epilog(cmd.epilog)
    return Command(path, short, [" ".join(p.split()) for p in doc[1:]], usage, args, opts, examples, notes, children)


def tree() -> Command:
    from . import app

    return describe(typer.main.get_command(app), ["vault"])


# --- text help -------------------------------------------------------------------------------


def _width() -> int:
    return max(60, min(shutil.get_terminal_size((90, 24)).columns, 100))


def _table(rows: list[tuple[str, str]], width: int) -> list[str]:
    if not rows:
        return []
    col = min(max(len(n) for n, _ in rows) + 4, 32)
    out = []
    for name, text in rows:
        body = textwrap.wrap(text, max(20, width - col - 2)) or [""]
        if len(name) + 4 > col:
            out.append("  " + name)
            out.extend(" " * (col + 2) + line for line in body)
        else:
            out.append("  " + name.ljust(col) + body[0])
            out.extend(" " * (col + 2) + line for line in body[1:])
    return out


def render_help(c: Command, global_options: list[Param] | None = None) -> str:
    width = _width()
    out = [f"Usage: {c.usage}", ""]
    for para in ([c.short] if c.short else []) + c.description:
        out += ["  " + line for line in textwrap.wrap(para, width - 2)] + [""]
    if c.children:
        out.append("Commands:")
        out += _table([(k.name, k.short) for k in c.children], width) + [""]
    if c.arguments:
        out.append("Arguments:")
        out += _table([(a.names, a.help) for a in c.arguments], width) + [""]
    if c.options:
        out.append("Options:")
        out += _table([(o.names, _with_default(o)) for o in c.options], width) + [""]
    if global_options:
        names = ", ".join(_long_form(o) for o in global_options if o.names != HELP_OPTION[0] and "--version" not in o.opts)
        out += textwrap.wrap(f"Global options, before or after the command: {names} (see `vault --help`).", width) + [""]
    if c.examples:
        out.append("Examples:")
        out += ["  " + e for e in c.examples] + [""]
    for note in c.notes:
        out += textwrap.wrap(note, width) + [""]
    return "\n".join(out).rstrip("\n") + "\n"


def _long_form(p: Param) -> str:
    longs = [o for o in p.opts if o.startswith("--")]
    return " ".join([longs[0] if longs else p.opts[0]] + ([p.metavar] if p.metavar else []))


def _with_default(p: Param) -> str:
    return f"{p.help} [default: {p.default}]" if p.default is not None else p.help


def _format(cmd: Any, ctx: Any, formatter: Any) -> None:
    root = ctx.find_root().command
    path = ctx.command_path.split()
    # The root lists the global options as its own; commands under it name them in one line.
    globals_ = None if root is cmd else describe(root, path[:1], deep=False).options
    formatter.write(render_help(describe(cmd, path), globals_))


class VaultCommand(typer.core.TyperCommand):
    """A command whose --help is rendered by ``render_help``."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        _format(self, ctx, formatter)


class VaultGroup(typer.core.TyperGroup):
    """A command group whose --help is rendered by ``render_help``."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        _format(self, ctx, formatter)


def use_vault_help(app: typer.Typer) -> None:
    """Make every command and group of ``app`` render help with ``render_help``."""
    for info in app.registered_commands:
        if info.cls in (None, typer.core.TyperCommand):
            info.cls = VaultCommand
    for group in app.registered_groups:
        if isinstance(group.cls, typer.models.DefaultPlaceholder):
            group.cls = VaultGroup
        if group.typer_instance is not None:
            use_vault_help(group.typer_instance)
