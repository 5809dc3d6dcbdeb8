"""Generate ``schemas/<format>.json``, the JSON Schema of every format's rows.

    python -m sftdata.formats.schemas --write     # regenerate
    python -m sftdata.formats.schemas --check     # exit 1 when a file is stale

The schemas come from each format's pydantic wire models (:meth:`Format.json_schema`);
a test runs ``--check`` so that a model change without regenerated files fails CI.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from . import Format, all_formats

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


def render(schema: dict[str, Any]) -> bytes:
    """Stable bytes: sorted keys, two-space indent, trailing newline."""
    return orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)


def schema_of(fmt: Format) -> dict[str, Any]:
    """A format's row schema with its ``$schema`` and title, as written to ``schemas/``."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": f"sftdata {fmt.name} row", **fmt.json_schema()}


def expected() -> dict[str, bytes]:
    """File name -> content for every registered format."""
    return {f"{fmt.name}.json": render(schema_of(fmt)) for fmt in all_formats()}


def stale(folder: Path = SCHEMA_DIR) -> list[str]:
    """Names of files that are missing, different, or no longer generated."""
    want = expected()
    have = {p.name for p in folder.glob("*.json")} if folder.is_dir() else set()
    bad = [name for name, data in want.items() if not (folder / name).is_file() or (folder / name).read_bytes() != data]
    return sorted(bad + sorted(have - set(want)))


def write(folder: Path = SCHEMA_DIR) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    want = expected()
    for name, data in want.items():
        (folder / name).write_bytes(data)
    for extra in {p.name for p in folder.glob("*.json")} - set(want):
        (folder / extra).unlink()
    return sorted(want)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sftdata.formats.schemas", description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="regenerate schemas/*.json")
    parser.add_argument("--check", action="store_true", help="exit 1 when schemas/*.json are stale")
    args = parser.parse_args(argv)
    if args.write:
        print("wrote", ", ".join(write()))
        return 0
    bad = stale()
    if bad:
        print(f"stale schemas: {', '.join(bad)}; run python -m sftdata.formats.schemas --write", file=sys.stderr)
        return 1
    print("schemas up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
