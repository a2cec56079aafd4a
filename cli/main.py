"""The `charkeras` command. Commands parse options, call the library, and turn user errors into
one-line messages with exit code 2. TensorFlow is imported only inside commands that need it, so
`charkeras --help` and LiteRT generation never load it (tests/test_architecture.py checks)."""

from __future__ import annotations

import contextlib
import os
import sys

import click
from charkeras_cli.os_errors import user_message
from charkeras_cli.quiet_stderr import filter_native_stderr

from charkeras import __version__
from charkeras.errors import CharkerasError

# TensorFlow's C++ start-up chatter hides the messages users need; respect an explicit setting.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class CharkerasGroup(click.Group):
    """Lists commands in workflow order and prints CharkerasError as `error: ...` (exit 2)."""

    def list_commands(self, ctx):
        return list(self.commands)  # registration order: the order a user meets them

    def main(self, args=None, *rest, **kwargs):
        """`--verbose` anywhere shows TensorFlow's own messages; otherwise the real CLI filters them
        (charkeras_cli/quiet_stderr.py)."""
        # A file name with bytes that are not UTF-8 (a lone surrogate in Python), or a generated
        # character the terminal's encoding lacks, is printed as an escape rather than ending the
        # command. Before
        # filter_native_stderr: once fd 2 is a pipe, a stream opened on a file can no longer
        # reconfigure.
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(AttributeError, OSError, ValueError):
                stream.reconfigure(errors="backslashreplace")
        args = list(sys.argv[1:] if args is None else args)
        if "--verbose" in args:
            args.remove("--verbose")
            os.environ["TF_CPP_MIN_LOG_LEVEL"] = os.environ.get("CHARKERAS_TF_LOG_LEVEL", "0")
        elif sys.stderr is sys.__stderr__:  # not under click's test runner
            filter_native_stderr()
        return super().main(args, *rest, **kwargs)

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:  # charkeras's own options: --bogus, a missing command
            _usage_error(exc)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:  # a command's options, as click validates them
            _usage_error(exc)
        except CharkerasError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except OSError as exc:  # a full or read-only disk, a permission: charkeras_cli/os_errors.py
            message = user_message(exc)
            if message is None:
                raise  # any other OSError is a bug: keep its traceback
            click.echo(f"error: {message}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            # Ctrl-C outside fit's own handling: a clean exit, not click's "Aborted!" rc 1
            click.echo("\ninterrupted", err=True)
            sys.exit(130)


def _usage_error(exc: click.UsageError) -> None:
    """Click's own validation (a bad choice, number or path, an unknown option) as one `error:` line
    and exit 2, like every other bad input; click's wording is kept, its usage lines are not.
    No arguments at all still show the help."""
    if isinstance(exc, click.exceptions.NoArgsIsHelpError):
        raise exc
    message = exc.format_message().rstrip(".")
    if isinstance(exc, click.BadParameter) and not isinstance(exc, click.MissingParameter) \
            and exc.param is not None:
        name = "/".join(exc.param.opts) if isinstance(exc.param, click.Option) \
            else exc.param.human_readable_name
        message = f"{name}: {exc.message}".rstrip(".")
    command = exc.ctx.command_path if exc.ctx is not None else "charkeras"
    click.echo(f"error: {message} (see {command} --help)", err=True)
    sys.exit(2)


@click.group(cls=CharkerasGroup, context_settings={"help_option_names": ["-h", "--help"],
                                                    "show_default": True})
@click.version_option(__version__, prog_name="charkeras")
def main():
    """Train character-level LSTM language models and ship them to TF Serving and LiteRT.

    Add --verbose to any command to see TensorFlow's own log lines, which are hidden otherwise.
    """


def _register() -> None:
    from charkeras_cli.cells_command import cells
    from charkeras_cli.evaluate_command import evaluate
    from charkeras_cli.export_command import export
    from charkeras_cli.fit_command import fit
    from charkeras_cli.generate_command import generate
    from charkeras_cli.info_command import info
    from charkeras_cli.report_command import report
    from charkeras_cli.visualize_command import visualize
    from charkeras_cli.web_command import web

    for command in (fit, export, generate, web, evaluate, visualize, cells, report, info):
        main.add_command(command)


_register()

if __name__ == "__main__":
    main()
