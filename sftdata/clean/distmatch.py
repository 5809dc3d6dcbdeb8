"""Pass 2 of dedup and split on Ray: band shuffle, verification, connected components.

With ``--engine ray`` pass 1 (:mod:`.fingerprint`) leaves each byte range's band keys and
shingle sets in the Ray object store (one object per range, on the node that made it)
and sends the driver only the row count, lines and lengths of each range. Then, with
``P`` partitions (one per Ray CPU), all as Ray tasks:

1. **shard** (a task per range): each nonzero band key, salted with its band exactly as
   :class:`~.candidates.BucketTable` does, goes with its global row to partition
   ``key % P``;
2. **bucket** (a task per partition): rows sharing a salted key give candidate pairs
   ``(i, j)``, ``j < i``, sent to the verifier of ``i``'s range group;
3. **verify** (a task per range group): pairs are counted (a pair sharing ``k`` bands
   counts ``k``, as local ``hits`` does) and verified with :func:`.sketch.jaccard` on
   the shingle sets made in pass 1 (its own ranges, plus one other range at a time),
   keeping the pairs at or above the threshold (exact mode: every candidate matches);
4. **components** by min-label propagation over the verified pairs, partitioned by row,
   one round per step of the longest path;
5. **keep-first** per component (partitioned by component), in row order: a row is a
   duplicate of the smallest earlier *kept* row it matches, which is exactly local
   matching's rule (:func:`.index.match`), as drops depend only on the rows a row is
   linked to.

No process holds every signature: a task holds its partition's keys or pairs and at most
two ranges' shingles. The driver keeps 28 bytes per row (lines, lengths, and the
``dup_of``/``score`` arrays the output pass reads). Local matching verifies at most
``max_candidates`` per row; when a row could have had more (an upper bound counted
here), the result could differ, so :func:`match_on_ray` returns ``None`` and the caller
matches on the driver instead (same answers, driver memory).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from ..engines.base import Engine
from ..engines.ray import connect, workers
from .candidates import salted_keys
from .index import Fingerprints, MatchConfig, Matches, Policy
from .sketch import _np, jaccard


@dataclass(frozen=True)
class RangeRefs:
    """One range of pass 1, left in the object store: its first global row, its row count,
    its band keys (``rows x bands`` uint64) and its shingle blocks (``(first, bounds, flat)``)."""

    offset: int
    rows: int
    keys: Any
    shingles: Any


def _shard(keys: Any, offset: int, parts: int) -> list[Any]:
    np = _np()
    salted, valid = salted_keys(keys)
    rows = np.broadcast_to(np.arange(offset, offset + len(keys), dtype=np.int64)[:, None], keys.shape)[valid]
    s = salted[valid]
    where = (s % np.uint64(parts)).astype(np.int64)
    return [(s[where == p], rows[where == p]) for p in range(parts)]


def _bucket(starts: Any, groups: int, *shards: Any) -> list[Any]:
    np = _np()
    keys = np.concatenate([s for s, _ in shards]) if shards else np.zeros(0, np.uint64)
    rows = np.concatenate([r for _, r in shards]) if shards else np.zeros(0, np.int64)
    order = np.lexsort((rows, keys))
    keys, rows = keys[order], rows[order]
    cuts = np.flatnonzero(np.diff(keys)) + 1
    pairs: list[Any] = []
    for members in np.split(rows, cuts):
        if len(members) > 1:
            later, earlier = np.tril_indices(len(members), -1)
            pairs.append(np.stack((members[later], members[earlier]), axis=1))
    found = np.concatenate(pairs) if pairs else np.zeros((0, 2), np.int64)
    group = (np.searchsorted(starts, found[:, 0], side="right") - 1) * groups // len(starts)
    return [found[group == g] for g in range(groups)]


class _ShingleSets:
    """Shingle sets of rows, fetched a range at a time: the own ranges stay, one other
    range is held at a time."""

    def __init__(self, starts: Any, refs: list[Any]) -> None:
        self.starts, self.refs = starts, refs
        self.held: dict[int, Any] = {}

    def get(self, row: int, keep: bool) -> Any:
        import ray

        np = _np()
        r = int(np.searchsorted(self.starts, row, side="right") - 1)
        if r not in self.held:
            if not keep:
                for other in [k for k, (_, kept) in self.held.items() if not kept]:
                    del self.held[other]
            self.held[r] = (ray.get(self.refs[r][0]), keep)
        blocks = self.held[r][0]
        local = row - int(self.starts[r])
        for first, bounds, flat in reversed(blocks):
            if local >= first:
                k = local - first
                return flat[int(bounds[k]) : int(bounds[k + 1])]
        raise IndexError(row)


def _verify(starts: Any, refs: list[Any], threshold: float, exact: bool, *parts: Any) -> tuple[Any, Any, int]:
    """Verified pairs ``(i, j, sim, mult, unverified mult of i)`` and the largest candidate
    multiplicity of a row (the ``policy="all"`` cap check)."""
    np = _np()
    found = np.concatenate(parts) if parts else np.zeros((0, 2), np.int64)
    pairs, mult = np.unique(found, axis=0, return_counts=True) if len(found) else (found, np.zeros(0, np.int64))
    # own rows' ranges stay; the other side is visited one range at a time
    order = np.lexsort((pairs[:, 0], np.searchsorted(starts, pairs[:, 1], side="right"))) if len(pairs) else np.zeros(0, np.int64)
    sets = _ShingleSets(starts, refs)
    sims = np.ones(len(pairs), dtype=np.float64)
    if not exact:
        for k in order.tolist():
            i, j = int(pairs[k, 0]), int(pairs[k, 1])
            sims[k] = jaccard(sets.get(i, True), sets.get(j, False))
    ok = sims >= threshold
    total: dict[int, int] = defaultdict(int)
    missed: dict[int, int] = defaultdict(int)
    for (i, _), m, good in zip(pairs.tolist(), mult.tolist(), ok.tolist()):
        total[i] += m
        if not good:
            missed[i] += m
    edges = pairs[ok]
    extra = np.fromiter((missed.get(i, 0) for i in edges[:, 0].tolist()), dtype=np.int64, count=len(edges))
    return edges, np.stack((sims[ok].astype(np.float32).astype(np.float64), mult[ok].astype(np.float64), extra.astype(np.float64)), axis=1), max(total.values(), default=0)


def _route(parts: int, edges: Any, attrs: Any) -> list[Any]:
    """Both directions of every edge, to the partition of their first row; the forward
    edge (later row first) carries its attributes."""
    np = _np()
    both = np.concatenate((edges, edges[:, ::-1]))
    forward = np.concatenate((np.ones(len(edges), bool), np.zeros(len(edges), bool)))
    att = np.concatenate((attrs, np.zeros_like(attrs)))
    where = both[:, 0] % parts
    return [(both[where == p], forward[where == p], att[where == p]) for p in range(parts)]


def _gather(*routed: Any) -> tuple[Any, Any, Any, Any, Any]:
    np = _np()
    edges = np.concatenate([e for e, _, _ in routed])
    forward = np.concatenate([f for _, f, _ in routed])
    attrs = np.concatenate([a for _, _, a in routed])
    nodes = np.unique(edges[:, 0])
    return nodes, nodes.copy(), edges, forward, attrs


def _step(parts: int, nodes: Any, labels: Any, edges: Any, *incoming: Any) -> tuple[Any, bool, list[Any]]:
    """One round of min-label propagation: take the smallest label offered to each own
    row, then offer each row's label to its neighbours."""
    np = _np()
    new = labels.copy()
    for to, lab in incoming:
        if len(to):
            idx = np.searchsorted(nodes, to)
            np.minimum.at(new, idx, lab)
    changed = bool((new != labels).any()) or not incoming
    src = new[np.searchsorted(nodes, edges[:, 0])]
    to = edges[:, 1]
    where = to % parts
    return new, changed, [(to[where == p], src[where == p]) for p in range(parts)]


def _emit(parts: int, nodes: Any, labels: Any, edges: Any, forward: Any, attrs: Any) -> list[Any]:
    np = _np()
    lab = labels[np.searchsorted(nodes, edges[:, 0])]
    e, a, lab = edges[forward], attrs[forward], lab[forward]
    where = lab % parts
    return [(e[where == p], a[where == p], lab[where == p]) for p in range(parts)]


def _keep_first(cap: int, *tagged: Any) -> tuple[Any, bool]:
    """Per component, in row order: a row duplicates the smallest earlier kept row it
    matches. Returns ``(i, keeper, sim)`` rows and whether some row could have had more
    than ``cap`` kept candidates (then local matching may have decided otherwise)."""
    np = _np()
    edges = np.concatenate([e for e, _, _ in tagged])
    attrs = np.concatenate([a for _, a, _ in tagged])
    out: list[tuple[int, int, float]] = []
    over = False
    links: dict[int, list[tuple[int, float, int, int]]] = defaultdict(list)
    for (i, j), (sim, mult, extra) in zip(edges.tolist(), attrs.tolist()):
        links[i].append((j, sim, int(mult), int(extra)))
    dropped: set[int] = set()
    for i in sorted(links):  # components are independent: one order over all of them is the same
        kept = [(j, sim, mult) for j, sim, mult, _ in links[i] if j not in dropped]
        if links[i][0][3] + sum(m for _, _, m in kept) > cap:
            over = True
        if kept:
            j, sim, _ = min(kept)
            dropped.add(i)
            out.append((i, j, sim))
    return np.asarray(out, dtype=np.float64).reshape(-1, 3), over


def match_on_ray(fp: Fingerprints, config: MatchConfig, engine: Engine, *, policy: Policy = "kept") -> Matches | None:
    """:func:`.index.match` over one file fingerprinted on Ray (``fp.ranges``), computed
    on the cluster; ``None`` when local matching's candidate cap could have mattered."""
    ray = connect(engine)
    np = _np()
    assert fp.ranges is not None
    ranges: list[RangeRefs] = fp.ranges
    n = len(fp)
    parts = max(2, workers(engine))
    if not ranges:
        return Matches(np.full(n, -1, np.int64), np.zeros(n, np.float32), np.arange(n) if policy == "all" else None)
    task = ray.remote(num_cpus=0)  # the pool's actors hold the CPUs, idle during this pass
    starts = np.asarray([r.offset for r in ranges], dtype=np.int64)
    groups = min(parts, len(ranges))
    shards = [task(_shard).options(num_returns=parts).remote(r.keys, r.offset, parts) for r in ranges]
    shards = [s if parts > 1 else [s] for s in shards]
    buckets = [task(_bucket).options(num_returns=groups).remote(starts, groups, *[s[p] for s in shards]) for p in range(parts)]
    buckets = [b if groups > 1 else [b] for b in buckets]
    refs = [[r.shingles] for r in ranges]  # nested: fetched inside the tasks, a range at a time
    verified = [task(_verify).options(num_returns=3).remote(starts, refs, config.threshold, config.mode == "exact", *[b[g] for b in buckets]) for g in range(groups)]
    most = max(ray.get([v[2] for v in verified]), default=0)
    if policy == "all" and most > config.max_candidates:
        return None
    routed = [task(_route).options(num_returns=parts).remote(parts, v[0], v[1]) for v in verified]
    state = [task(_gather).options(num_returns=5).remote(*[r[p] for r in routed]) for p in range(parts)]
    nodes = [s[0] for s in state]
    labels = [s[1] for s in state]
    edges = [s[2] for s in state]
    messages: list[list[Any]] = [[] for _ in range(parts)]
    while True:
        steps = [task(_step).options(num_returns=3).remote(parts, nodes[p], labels[p], edges[p], *messages[p]) for p in range(parts)]
        labels = [s[0] for s in steps]
        if not any(ray.get([s[1] for s in steps])):
            break
        outs = [ray.get(s[2]) for s in steps]
        messages = [[o[p] for o in outs] for p in range(parts)]
    dup_of = np.full(n, -1, dtype=np.int64)
    score = np.zeros(n, dtype=np.float32)
    group = None
    if policy == "all":
        group = np.arange(n, dtype=np.int64)
        for nd, lab in zip(ray.get(nodes), ray.get(labels)):
            group[nd] = lab
        return Matches(dup_of, score, group)
    emitted = [task(_emit).options(num_returns=parts).remote(parts, nodes[p], labels[p], edges[p], state[p][3], state[p][4]) for p in range(parts)]
    decided = ray.get([task(_keep_first).remote(config.max_candidates, *[e[p] for e in emitted]) for p in range(parts)])
    if any(over for _, over in decided):
        return None
    for drops, _ in decided:
        rows = drops[:, 0].astype(np.int64)
        dup_of[rows] = drops[:, 1].astype(np.int64)
        score[rows] = drops[:, 2].astype(np.float32)
    return Matches(dup_of, score, group)


def materialize(fp: Fingerprints) -> Fingerprints:
    """The fingerprints of ``fp.ranges`` fetched to this process, for matching here."""
    import ray

    from .shinglecache import ShingleCache

    np = _np()
    ranges: list[RangeRefs] = fp.ranges or []
    keys = [ray.get(r.keys) for r in ranges]
    width = keys[0].shape[1] if keys else 1
    cache = ShingleCache(1 << 62, spill=True)
    for r in ranges:
        for first, bounds, flat in ray.get(r.shingles):
            cache.add(r.offset + first, bounds, flat)
    stacked = np.concatenate(keys) if keys else np.zeros((0, width), np.uint64)
    return Fingerprints(fp.path, fp.fmt, stacked, fp.lengths, fp.lines, fp.failed, fp.labels, cache)
