"""The ``vault`` command line: parse, call the core, render.  Nothing else lives here.

``main`` is the one place where exceptions become exit codes and ``vault: error:`` lines.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import context
from .helptext import VaultGroup, use_vault_help

app = typer.Typer(
    name="vault",
    cls=VaultGroup,
    help=(
        "A personal data vault: import your social-network and marketplace exports into one "
        "age-encrypted folder, search and curate them, publish a site, and back it up.\n\n"
        "Global options (--vault, --json, --quiet, --verbose, --lock-wait, --identity-file) may "
        "also be given after the command."
    ),
    epilog=(
        "Examples:\n\n"
        "  vault init ~/vault\n\n"
        "  vault import ~/Downloads/facebook-jana.zip\n\n"
        "  vault search \"prague coffee\" --kind post\n\n"
        "  vault unlock --for 30m\n\n"
        "  vault publish --out ./site\n\n"
        "Run `vault COMMAND --help` for a command's options and examples, `vault man | man -l -` "
        "for the manual. Exit codes: 0 ok, 1 unexpected error, 2 usage error, 3 partial success, "
        "10 no vault, 11 locked, 12 key unavailable, 13 integrity failure, 20 unsupported input, "
        "130 interrupted."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

GLOBAL_FLAGS = {"--json", "--quiet", "-q", "--verbose", "-v"}
GLOBAL_VALUE_OPTIONS = {"--vault", "--lock-wait", "--identity-file"}


def _version_flag(value: bool) -> None:
    # `main` turns a leading --version into the `version` command; this covers other callers.
    if value:
        from .cmd_version import print_version

        print_version()
        raise typer.Exit()


@app.callback()
def _globals(
    vault: Annotated[Optional[Path], typer.Option("--vault", help="The vault folder (else $VAULT_DIR, else the platform data folder).", show_default=False)] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout; errors as JSON on stderr.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No messages or progress bars; errors only.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="More detail, and tracebacks for unexpected errors.")] = False,
    lock_wait: Annotated[float, typer.Option("--lock-wait", metavar="SECONDS", help="How long to wait for another process's lock before exit 11.")] = 60.0,
    identity_file: Annotated[Optional[Path], typer.Option("--identity-file", help="An age identity file (else $VAULT_IDENTITY_FILE, keyring, passphrase).", show_default=False)] = None,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit (same as `vault version`).", is_eager=True, expose_value=False, callback=_version_flag)] = False,
) -> None:
    context.STATE.vault = vault
    context.STATE.json = json_out
    context.STATE.quiet = quiet
    context.STATE.verbose = verbose
    context.STATE.lock_wait = lock_wait
    context.STATE.identity_file = identity_file


def _register() -> None:
    # Each module adds its commands to `app`; they import the core lazily inside the commands.
    # The order of registration is the order `vault --help` lists the commands in.
    # isort: off
    from . import (  # noqa: F401
        cmd_init,
        cmd_status,
        cmd_key,
        cmd_import,
        cmd_sources,
        cmd_list,
        cmd_search,
        cmd_show,
        cmd_get,
        cmd_mark,
        cmd_export,
        cmd_check,
        cmd_compact,
        cmd_gc,
        cmd_demo,
        cmd_publish,
        cmd_verify,
        cmd_scrape,
        cmd_reputation,
        cmd_backup,
        cmd_restore,
        cmd_unlock,
        cmd_lock,
        cmd_version,
        cmd_completion,
        cmd_man,
        cmd_readers,
    )
    # isort: on

    use_vault_help(app)


_register()


def hoist_global_options(argv: list[str]) -> list[str]:
    """Move global options found after the command name to the front, so that
    ``vault status --json`` means ``vault --json status``.  Stops at ``--``."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok == "--":
            rest.extend(argv[i:])
            break
        name = tok.split("=", 1)[0]
        if tok in GLOBAL_FLAGS:
            front.append(tok)
        elif name in GLOBAL_VALUE_OPTIONS:
            if "=" in tok:
                front.append(tok)
            elif i + 1 < len(argv):
                front.extend(argv[i : i + 2])
                i += 1
            else:
                rest.append(tok)
        else:
            rest.append(tok)
        i += 1
    return front + rest


def _version_requested(argv: list[str]) -> bool:
    """True when ``--version`` comes before the command name (``vault --json --version``)."""
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok == "--version":
            return True
        if tok == "--" or not tok.startswith("-"):
            return False
        if tok in GLOBAL_VALUE_OPTIONS:
            i += 1
        i += 1
    return False


def _interrupt(signum, frame):  # noqa: ANN001
    # One interruption is enough: further Ctrl-C or SIGTERM must not break the clean-up that
    # the first one starts (temp files removed, locks released).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def _report(exc, verbose: bool) -> int:
    from ..errors import VaultError

    code = int(exc.exit_code)
    if context.STATE.json:
        sys.stderr.write(context.json_text(exc.to_json()) + "\n")
    else:
        sys.stderr.write(f"vault: error: {context.printable(exc.message)}\n")
        if exc.hint:
            sys.stderr.write(f"vault: hint: {context.printable(exc.hint)}\n")
    if verbose and isinstance(exc, VaultError) and exc.__cause__ is not None:
        import traceback

        traceback.print_exception(exc.__cause__, file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit code.  Every exception becomes a code and a message here."""
    os.umask(0o077)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    args, verbose = _prepare(list(sys.argv[1:] if argv is None else argv))
    code = _run_app(args, verbose)
    _print_notices()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    return code


def _prepare(argv: list[str]) -> tuple[list[str], bool]:
    """The arguments typer will parse (global options first, ``--version`` as the command), and
    whether ``--verbose`` was given; resets ``context.STATE``."""
    args = hoist_global_options(argv)
    globals_given = args[: args.index("--")] if "--" in args else args
    verbose = "--verbose" in globals_given or "-v" in globals_given
    # Known before typer parses anything, so that usage errors (an unknown command or option)
    # are reported as JSON too; and nothing left over from an earlier in-process run.
    context.STATE = context.Options(json="--json" in globals_given, verbose=verbose)
    if _version_requested(args):
        args = [a for a in args if a != "--version"]
        args = [a for a in args if a.startswith("-")] + ["version"]
    return args, verbose


def _run_app(args: list[str], verbose: bool) -> int:
    from ..errors import ExitCode, Interrupted, VaultError

    try:
        result = app(args=args, prog_name="vault", standalone_mode=False)
        code = int(result) if isinstance(result, int) else 0
        if code == ExitCode.INTERRUPTED:
            # typer turns KeyboardInterrupt (Ctrl-C, or SIGTERM via _interrupt) into a bare exit
            # 130; say what happened.
            code = _report(Interrupted(), verbose)
    except VaultError as exc:
        code = _report(exc, verbose)
    except KeyboardInterrupt:
        code = _report(Interrupted(), verbose)
    except BrokenPipeError:
        # `vault list | head`: the reader went away; that is not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 0
    except MemoryError:
        code = _report(VaultError("out of memory"), verbose)
    # The single boundary where anything else becomes "unexpected error" (exit 1).
    except Exception as exc:  # noqa: BLE001
        code = _other_exception(exc, verbose)
    return code


def _other_exception(exc: Exception, verbose: bool) -> int:
    """The exit code for an exception that is not a VaultError: click's help and usage errors,
    an abort, or a bug ("unexpected error", exit 1)."""
    from ..errors import ExitCode, Interrupted, UsageError, VaultError

    if type(exc).__name__ == "NoArgsIsHelpError":
        # `vault` or `vault key` alone: the help, as gh and restic do.
        sys.stdout.write(exc.format_message())  # type: ignore[attr-defined]  # click's NoArgsIsHelpError
        return 0
    if hasattr(exc, "exit_code") and hasattr(exc, "format_message"):
        # typer's own usage errors (missing argument, bad option value).
        _report(UsageError(exc.format_message(), hint="see `vault --help` or `vault COMMAND --help`"), verbose)
        return int(getattr(exc, "exit_code", 2) or 2)
    if type(exc).__name__ == "Abort":
        return _report(Interrupted(), verbose)
    if verbose:
        import traceback

        traceback.print_exc()
    _report(VaultError(f"unexpected error: {type(exc).__name__}: {exc}", hint="run again with --verbose for details"), verbose)
    return int(ExitCode.UNEXPECTED)


def _print_notices() -> None:
    """The catalog head's notes for the person (stderr), once per run."""
    head_mod = sys.modules.get("vault.store.head")
    for note in head_mod.NOTICES if head_mod else ():
        context.info(f"vault: note: {note}")
    if head_mod:
        head_mod.NOTICES.clear()


def run() -> None:
    from ..errors import ExitCode

    try:
        code = main()
    except KeyboardInterrupt:  # one that escaped main's own handling
        code = int(ExitCode.INTERRUPTED)
    if code == ExitCode.INTERRUPTED:
        # main has already cleaned up (temp files removed, lock released, worker pools joined).
        # Leave without the interpreter's finalisation: a KeyboardInterrupt surfacing there was
        # seen, rarely and under load, to turn the documented exit 130 into death by SIGINT.
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
    sys.exit(code)
