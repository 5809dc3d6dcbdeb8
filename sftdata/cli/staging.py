"""Remote URIs in every command: one wrapper around each command's callback.

Options that name files read (``INPUT``, ``--against``) or written (``-o``, ``--rejects``,
``--report``, ``--plot``) may be ``s3://``, ``gs://``, ``hf://`` or other fsspec URIs;
:class:`sftdata.io.remote.Staging` stands local files in for them, and this wrapper puts
the URIs back into what the user sees (errors, printed results, rejects and reports).
With ``--engine ray`` the input is left remote: the workers read their ranges themselves.
"""

from __future__ import annotations

import contextlib
import functools
import io
import sys
from collections.abc import Callable
from typing import Any

import click

READS = ("input", "against")
#: outputs that cite their sources (staged paths in them become URIs)
CITES = ("rejects", "report")
WRITES = ("output", "out_dir", "plot", *CITES)


def _remote(kwargs: dict[str, Any]) -> bool:
    from ..io.remote import is_uri

    return any(is_uri(kwargs.get(name)) for name in (*READS, *WRITES))


def with_staging(command: click.Command) -> click.Command:
    """Wrap ``command``'s callback so that remote paths work (once per command object)."""
    callback = command.callback
    if callback is None or getattr(callback, "_staged", False):
        return command

    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        if not _remote(kwargs):
            return callback(*args, **kwargs)
        return _staged(callback, args, kwargs)

    run._staged = True  # type: ignore[attr-defined]
    command.callback = run
    return command


def _staged(callback: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    from ..errors import SftdataError
    from ..io.remote import Staging

    with Staging() as stage:
        for name in READS:
            if kwargs.get(name) and not (name == "input" and kwargs.get("engine") == "ray"):
                kwargs[name] = stage.input(kwargs[name])
        for name in WRITES:
            if kwargs.get(name):
                kwargs[name] = stage.output(kwargs[name], names=name in CITES)
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                result = callback(*args, **kwargs)
        except SystemExit:
            # validate and check exit 1 on invalid data after writing their outputs
            stage.commit()
            raise
        except SftdataError as err:
            err.path = stage.rename(err.path) if err.path else err.path
            err.message = stage.rename(err.message)
            raise
        finally:
            sys.stdout.write(stage.rename(printed.getvalue()))
        stage.commit()
        return result
