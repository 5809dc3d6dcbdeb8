"""The Ray engine: the same per-range steps as :mod:`.local`, on a Ray cluster.

A step hands this engine exactly what it hands the local one: a picklable
``work(span) -> result`` function and an ``initializer(*initargs)`` that sets up its
state (format, tokenizer, configuration). Here the byte ranges of the file (local on
a shared filesystem, or any fsspec URI: each worker reads its own range) go to a pool of
long-lived actors, one per CPU of the cluster and spread over its nodes; each runs the
initializer once per job and ``work`` once per range, and the driver receives the results
in file order, with at most two ranges per actor in flight. So line numbers, rejects, the first error and every count are those of one
process, by construction: the engine knows no step.

Plain Ray actors rather than a ``ray.data`` pipeline: a Dataset execution starts its own
actor pool each time (seconds per step), where these actors serve every step of the
process. Pipelines that hold a ``ray.data.Dataset`` use :mod:`sftdata.ray` instead.

Ray is optional (``pip install 'sftdata[ray]'``). :func:`connect` joins the cluster at
``--ray-address`` / ``RAY_ADDRESS``, or starts a local Ray for the run.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..errors import DataError, MissingDependencyError, UsageError
from ..io import remote
from ..io.files import spans as local_spans
from .base import Engine
from .local import cpu_count

T = TypeVar("T")
Span = tuple[int, int]
#: object store of a local Ray started for the run: results are small (counts, one range
#: of output), so the default (30% of RAM) would only reserve shared memory for nothing.
OBJECT_STORE_BYTES = 512 << 20


def require() -> Any:
    """The ``ray`` module, or an error that says how to install it."""
    try:
        import ray
    except ImportError:
        raise MissingDependencyError("ray", "ray", "--engine ray") from None
    return ray


def connect(engine: Engine) -> Any:
    """Join (or start) the Ray instance of ``engine``; an instance already running in
    this process is reused."""
    ray = require()
    if not ray.is_initialized():
        # "local" starts a new Ray even where a stale /tmp/ray/ray_current_cluster (another
        # user's, or a crashed run's) would make ray.init(address=None) try to join it.
        address = engine.address or os.environ.get("RAY_ADDRESS") or "local"
        options: dict[str, Any] = {"log_to_driver": False, "logging_level": "ERROR", "include_dashboard": False}
        if address == "local":
            options["num_cpus"] = engine.cpus or cpu_count()
            options["object_store_memory"] = OBJECT_STORE_BYTES
        try:
            _start(ray, address, options)
        except ConnectionError as exc:
            raise UsageError(f"cannot reach the Ray cluster at {address}: {exc}", remedy="Check --ray-address / RAY_ADDRESS (e.g. ray://HEAD:10001), or drop it to start a local Ray.") from None
        except Exception as exc:
            if "timed out during startup" not in str(exc):
                raise
            raise DataError(
                "a local Ray timed out during startup, twice (its raylet must register within 30 s; the machine may be too busy).",
                code="ray-start",
                remedy="Start Ray once with `ray start --head` and pass --ray-address auto, or use --engine local.",
            ) from None
    return ray


def _start(ray: Any, address: str | None, options: dict[str, Any], attempts: int = 2) -> None:
    for attempt in range(attempts):
        try:
            ray.init(address=address, **options)
            return
        except Exception as exc:
            # A local Ray gives its raylet 30 s to register; a loaded machine can miss
            # that. Try again before giving up.
            if address != "local" or "timed out during startup" not in str(exc) or attempt == attempts - 1:
                raise
            ray.shutdown()


def workers(engine: Engine) -> int:
    """Actors to run: ``engine.workers``, else one per CPU of the cluster."""
    ray = connect(engine)
    return engine.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))


def file_spans(path: str | os.PathLike[str], chunk: int) -> list[Span]:
    """Byte ranges of a JSONL file or URI, each ending after a newline."""
    if remote.is_uri(path):
        return list(remote.spans(str(path), chunk))
    return list(local_spans(Path(path), chunk))


@dataclass
class _Job:
    """What every actor needs for one step: its function and how to set it up."""

    work: Callable[[Span], Any]
    initializer: Callable[..., None] | None
    initargs: tuple[Any, ...]


class _Worker:
    """One long-lived actor (one CPU): it sets a step up once per job, then runs the
    step's ``work`` on each range it is given. Actors outlive a job, so a second step in
    the same process (dedup after detect, a test after another) starts no new process."""

    def __init__(self) -> None:
        self.key: str | None = None
        self.work: Callable[[Span], Any] | None = None

    def run(self, key: str, job: list[Any], span: Span) -> Any:
        if key != self.key:
            import ray

            spec: _Job = ray.get(job[0])
            if spec.initializer is not None:
                spec.initializer(*spec.initargs)
            self.key, self.work = key, spec.work
        assert self.work is not None
        return self.work(span)

    def usage(self) -> tuple[str, int]:
        """(node id, peak RSS of this actor in bytes), for the benchmark."""
        import resource

        import ray

        return ray.get_runtime_context().get_node_id(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


_POOL: dict[str, Any] = {}


def pool(engine: Engine) -> list[Any]:
    """The actors of this driver (created once per Ray session), spread over the nodes."""
    ray = connect(engine)
    session = ray.get_runtime_context().get_job_id()
    n = workers(engine)
    if _POOL.get("session") != session or len(_POOL.get("actors", ())) != n:
        actor = ray.remote(num_cpus=1, scheduling_strategy="SPREAD")(_Worker)
        _POOL.update(session=session, actors=[actor.remote() for _ in range(n)])
    return list(_POOL["actors"])


def release() -> None:
    """End this driver's actors, freeing their CPUs (a ``ray.data`` pipeline in the same
    session needs them: its tasks would wait forever behind actors holding every CPU)."""
    actors = _POOL.pop("actors", [])
    _POOL.pop("session", None)
    if actors:
        import ray

        for actor in actors:
            ray.kill(actor)


@contextmanager
def ordered_ranges(
    path: str | os.PathLike[str],
    work: Callable[[Span], T],
    *,
    engine: Engine,
    chunk: int,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> Iterator[Iterator[tuple[Span, T]]]:
    """Run ``work`` on every range of ``path`` on Ray; yield ``(span, result)`` in file
    order (the contract of :func:`sftdata.engines.local.ordered_ranges`). At most two
    ranges per actor are in flight, so memory stays bounded however large the file."""
    ray = connect(engine)
    actors = pool(engine)
    job = [ray.put(_Job(work, initializer, initargs))]
    key = uuid.uuid4().hex
    pending: deque[tuple[Span, Any]] = deque()
    try:
        yield _in_order(ray, actors, key, job, iter(file_spans(path, chunk)), pending)
    finally:
        for _, ref in pending:  # an error or Ctrl-C: stop what is still queued
            ray.cancel(ref)


def _in_order(ray: Any, actors: list[Any], key: str, job: list[Any], ranges: Iterator[Span], pending: deque[tuple[Span, Any]]) -> Iterator[tuple[Span, Any]]:
    turn = itertools.cycle(actors)
    for span in itertools.islice(ranges, 2 * len(actors)):
        pending.append((span, next(turn).run.remote(key, job, span)))
    while pending:
        span, ref = pending.popleft()
        following = next(ranges, None)
        if following is not None:
            pending.append((following, next(turn).run.remote(key, job, following)))
        yield span, ray.get(ref)


def usage(engine: Engine) -> list[tuple[str, int]]:
    """(node id, peak RSS) of every actor of the pool."""
    ray = connect(engine)
    return list(ray.get([a.usage.remote() for a in pool(engine)]))
