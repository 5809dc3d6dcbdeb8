"""``--engine local|ray`` and ``--ray-address``: the same options on every command that can run on Ray."""

from __future__ import annotations

from typing import Any

import click

ENGINE_HELP = "Where the work runs: local worker processes, or Ray (a local Ray for the run, or the cluster at --ray-address / RAY_ADDRESS; pip install 'sftdata[ray]'). Same output either way."


def engine_options(f: Any) -> Any:
    f = click.option("--ray-address", default=None, metavar="ADDR", help="Ray cluster to join with --engine ray (e.g. ray://HEAD:10001 or auto); default: RAY_ADDRESS, else a local Ray started for the run.")(f)
    f = click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True, help=ENGINE_HELP)(f)
    return f


def engine_of(engine: str, ray_address: str | None) -> Any:
    """The :class:`~sftdata.engines.base.Engine` of the options (``None``: local)."""
    from ..engines.base import Engine
    from ..errors import UsageError

    if engine == "local":
        if ray_address is not None:
            raise UsageError("--ray-address needs --engine ray.", remedy="Add --engine ray, or drop --ray-address.")
        return None
    from ..engines.ray import require

    require()
    return Engine("ray", address=ray_address)
