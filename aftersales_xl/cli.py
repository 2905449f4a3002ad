"""``xlcheck``: thin click commands. Each parses options, calls one library function, renders, exits.

No pandas or openpyxl here. Library exceptions (:mod:`aftersales_xl.errors`) become one
line on stderr and exit 2; anything unexpected becomes one line plus a ``--debug`` hint.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from . import __version__
from .errors import XlcheckError

EPILOG_EXIT = "Exit codes: 0 done, no errors; 1 error findings; 2 bad usage or unreadable input."


def common_options(f: Callable) -> Callable:
    """--config, --lang and --debug, shared by every command."""
    f = click.option("--debug", is_flag=True, help="Show the full traceback of an internal error.")(f)
    f = click.option(
        "--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
        help="Language of messages and written sheets.",
    )(f)
    f = click.option(
        "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
        help="Policy file (TOML). Default: ./xlcheck.toml if present, else built-in defaults.",
    )(f)
    return f


def guarded(f: Callable) -> Callable:
    """Turn library errors into one line + exit 2, and surprises into one line + --debug hint."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = kwargs.get("debug", False)
        try:
            return f(*args, **kwargs)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except XlcheckError as e:
            click.echo(f"xlcheck: {e}", err=True)
            sys.exit(e.exit_code)
        except KeyboardInterrupt:
            click.echo("xlcheck: interrupted; no output was left half-written", err=True)
            sys.exit(130)
        except Exception as e:  # noqa: BLE001 - last-resort guard for the CLI only
            if debug:
                raise
            from .pii import redact

            click.echo(
                f"xlcheck: internal error ({type(e).__name__}: {redact(str(e))[:200]}); "
                "rerun with --debug for details",
                err=True,
            )
            sys.exit(2)

    return wrapper


def load(config_path: Path | None):
    from .config import load_policy

    return load_policy(config_path)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="xlcheck")
def cli() -> None:
    """Validate, mask, number and merge after-sales problem records kept in Excel.

    \b
    Example:
        xlcheck validate submissions/ --annotate checked/
    """


def main() -> None:
    cli()


if __name__ == "__main__":  # pragma: no cover
    main()
