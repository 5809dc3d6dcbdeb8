"""Near-dedup benchmark: sftdata vs a straightforward datasketch MinHashLSH pipeline.

Builds a 100k-record sharegpt JSONL from the LLaMA-Factory demo sets (distinct base
conversations assembled from real prompts and answer sentences, English and Chinese,
plus planted copies: exact, re-spaced/re-cased, and with word edits of 1-20%), then, in
one run:

- recall: over every planted (original, copy) pair whose true Jaccard similarity of
  shingle sets is >= the threshold, the share that sftdata puts in one cluster;
- records/s of ``sftdata.clean.dedup`` end to end (read, decode, fingerprint, verify,
  write output and rejects), median of several runs, vs the datasketch pipeline
  (orjson read, same text and shingles, ``MinHash.update_batch``, ``MinHashLSH``
  query-then-insert), each in a fresh process so that peak RSS is its own;
- MinHash alone: rensa vs datasketch vs a numpy implementation, records/s.

Run: PYTHONPATH=. python benchmarks/dedup_bench.py [--records 100000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import re
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
REAL = ROOT.parent / "shared" / "realdata" / "llamafactory"
if not REAL.is_dir():
    REAL = Path("/work/shared/realdata/llamafactory")


def _sentences(text: str, zh: bool) -> list[str]:
    parts = re.split(r"(?<=[。！？])" if zh else r"(?<=[.!?])\s+", text)
    return [p.strip() for p in parts if len(p.strip()) > (8 if zh else 25)]


def _pools() -> dict[str, tuple[list[str], list[str]]]:
    """language -> (prompts, answer sentences) from the demo sets."""
    en_prompts, en_sents, zh_prompts, zh_sents = [], [], [], []
    for row in json.loads((REAL / "alpaca_zh_demo.json").read_text()):
        zh_prompts.append((row["instruction"] + "\n" + row["input"]).strip())
        zh_sents += _sentences(row["output"], True)
    for name in ("dpo_en_demo.json",):
        for row in json.loads((REAL / name).read_text()):
            en_prompts.append(row["conversations"][0]["value"])
            en_sents += _sentences(row["chosen"]["value"] + " " + row["rejected"]["value"], False)
    for row in json.loads((REAL / "kto_en_demo.json").read_text()):
        en_prompts.append(row["messages"][0]["content"])
        en_sents += _sentences(row["messages"][-1]["content"], False)
    for row in json.loads((REAL / "glaive_toolcall_en_demo.json").read_text()):
        for turn in row["conversations"]:
            if turn["from"] == "human":
                en_prompts.append(turn["value"])
            elif turn["from"] == "gpt":
                en_sents += _sentences(turn["value"], False)
    return {"en": (en_prompts, sorted(set(en_sents))), "zh": (zh_prompts, sorted(set(zh_sents)))}


def _edit(text: str, rate: float, rng: random.Random, zh: bool) -> str:
    """Replace or delete about ``rate`` of the words (characters for Chinese)."""
    units = list(text) if zh else text.split(" ")
    for _ in range(max(1, round(rate * len(units)))):
        k = rng.randrange(len(units))
        if rng.random() < 0.5:
            del units[k]
        else:
            units[k] = rng.choice(["的", "了", "是"]) if zh else rng.choice(["however", "indeed", "basically", "the", "really"])
    return ("" if zh else " ").join(units)


def build(path: Path, n: int, seed: int = 0) -> list[tuple[int, int]]:
    """Write ``n`` sharegpt rows to ``path``; returns the planted (original, copy) pairs
    as 0-based row indices."""
    rng = random.Random(seed)
    pools = _pools()
    n_copies = n // 7
    bases = []
    for _ in range(n - n_copies):
        lang = "zh" if rng.random() < 0.2 else "en"
        prompts, sents = pools[lang]
        k = rng.randint(5, 9) if lang == "en" else rng.randint(6, 12)
        answer = ("" if lang == "zh" else " ").join(rng.sample(sents, k))
        bases.append((lang, {"conversations": [{"from": "human", "value": rng.choice(prompts)}, {"from": "gpt", "value": answer}]}))
    copies = []
    for _ in range(n_copies):
        b = rng.randrange(len(bases))
        lang, row = bases[b]
        zh = lang == "zh"
        kind = rng.random()
        conv = [dict(t) for t in row["conversations"]]
        if kind < 0.2:
            pass
        elif kind < 0.4:
            conv[-1]["value"] = conv[-1]["value"].replace(" ", "  ").replace("。", "。 ").upper()
        else:
            conv[-1]["value"] = _edit(conv[-1]["value"], rng.choice([0.01, 0.03, 0.05, 0.1, 0.2]), rng, zh)
        copies.append((b, {"conversations": conv}))
    order = list(range(len(bases) + len(copies)))
    rng.shuffle(order)
    position = {orig: pos for pos, orig in enumerate(order)}
    rows: list[dict] = [None] * len(order)  # type: ignore[list-item]
    for i, (_, row) in enumerate(bases):
        rows[position[i]] = row
    pairs = []
    for c, (b, row) in enumerate(copies):
        rows[position[len(bases) + c]] = row
        pairs.append((position[b], position[len(bases) + c]))
    path.write_bytes(b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in rows))
    return pairs


def build_upsampled(path: Path, n: int, seed: int = 0, pool: int | None = None) -> list[tuple[int, int]]:
    """The upsampled shape: ``n`` rows drawn from a small pool of distinct conversations
    (default ``n // 20``), most of them edited copies (as when a small seed set is
    augmented or scraped many times). Returns (first row of the base, copy) pairs."""
    rng = random.Random(seed)
    pools = _pools()
    size = pool or max(1, n // 20)
    bases = []
    for _ in range(size):
        lang = "zh" if rng.random() < 0.2 else "en"
        prompts, sents = pools[lang]
        k = rng.randint(5, 9) if lang == "en" else rng.randint(6, 12)
        answer = ("" if lang == "zh" else " ").join(rng.sample(sents, k))
        bases.append((lang, [{"from": "human", "value": rng.choice(prompts)}, {"from": "gpt", "value": answer}]))
    rows, first, pairs = [], {}, []
    for i in range(n):
        b = rng.randrange(size)
        lang, conv = bases[b]
        conv = [dict(t) for t in conv]
        if b in first and rng.random() < 0.7:
            conv[-1]["value"] = _edit(conv[-1]["value"], rng.choice([0.01, 0.03, 0.05, 0.1]), rng, lang == "zh")
        if b in first:
            pairs.append((first[b], i))
        else:
            first[b] = i
        rows.append({"conversations": conv})
    path.write_bytes(b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in rows))
    return pairs


def _texts(path: Path) -> list[str]:
    from sftdata.clean.index import MatchConfig
    from sftdata.formats import get_format

    fmt, cfg = get_format("sharegpt"), MatchConfig()
    return [cfg.text(fmt.decode(orjson.loads(line))) for line in path.read_bytes().splitlines()]


def _child(fn, args, queue) -> None:  # type: ignore[no-untyped-def]
    t, cpu = time.perf_counter(), time.process_time()
    out = fn(*args)
    queue.put((time.perf_counter() - t, _peak_rss_mib(), {"result": out, "cpu": time.process_time() - cpu}))


def _peak_rss_mib() -> float:
    """VmHWM of this process. (ru_maxrss survives exec on Linux, so a spawned child
    would report its parent's peak.) Worker processes, if any, are not included."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def isolated(fn, *args):  # type: ignore[no-untyped-def]
    """Run fn in a fresh process: (seconds, peak RSS MiB, result)."""
    # spawn: a fresh interpreter, so the peak RSS is the run's own
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn, args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def run_sftdata(path: Path, out: Path, workers: int) -> dict:
    from sftdata.clean.dedup import DedupConfig, dedup

    rep = dedup(path, out / "kept.jsonl", DedupConfig(mode="near"), rejects=out / "rejects.jsonl", format="sharegpt", workers=workers)
    dups = {}
    for line in (out / "rejects.jsonl").read_bytes().splitlines():
        r = orjson.loads(line)
        dups[r["line"] - 1] = r["duplicate_line"] - 1
    return {"report": rep.to_dict(), "dups": dups}


def run_datasketch(path: Path, num_perm: int = 128) -> int:
    """The textbook pipeline: per record MinHash over word 3-gram shingles, LSH query,
    insert when nothing similar is indexed."""
    from datasketch import MinHash, MinHashLSH

    from sftdata.clean.views import normalize

    lsh = MinHashLSH(threshold=0.8, num_perm=num_perm)
    dropped = 0
    norms = frozenset({"nfkc", "case"})
    with open(path, "rb") as fh:
        for i, line in enumerate(fh):
            row = orjson.loads(line)
            text = normalize("\n".join(f"{'user' if t['from'] == 'human' else 'assistant'}\n{t['value']}" for t in row["conversations"]), norms)
            words = text.split()
            shingles = {" ".join(words[k : k + 3]).encode() for k in range(max(1, len(words) - 2))}
            m = MinHash(num_perm=num_perm)
            m.update_batch(shingles)
            if lsh.query(m):
                dropped += 1
            else:
                lsh.insert(str(i), m)
    return dropped


def minhash_only(texts: list[str]) -> dict[str, float]:
    """records/s of MinHash signatures alone, on the same shingles."""
    import numpy as np
    from datasketch import MinHash

    from sftdata.clean.sketch import SketchConfig, Sketcher, _rensa

    sk = Sketcher(SketchConfig())
    batch = sk.shingle(texts)
    out = {}
    t = time.perf_counter()
    _rensa().RMinHash.digest_matrix_from_flat_token_hashes(batch.flat, batch.offsets, 126, 1).to_rows()
    out["rensa"] = len(texts) / (time.perf_counter() - t)
    sub = texts[:2000]
    sb = sk.shingle(sub)
    t = time.perf_counter()
    for i in range(len(sub)):
        m = MinHash(num_perm=126)
        m.update_batch([int(x).to_bytes(8, "little") for x in sb.flat[int(sb.offsets[i]) : int(sb.offsets[i + 1])]])
    out["datasketch"] = len(sub) / (time.perf_counter() - t)
    rng = np.random.default_rng(1)
    a = rng.integers(1, 2**61 - 1, size=126, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 2**61 - 1, size=126, dtype=np.uint64)
    t = time.perf_counter()
    for i in range(len(sub)):
        h = sb.flat[int(sb.offsets[i]) : int(sb.offsets[i + 1])]
        (h[:, None] * a[None, :] + b[None, :]).min(axis=0)
    out["numpy"] = len(sub) / (time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sample", type=int, default=3000, help="labelled planted pairs checked for recall")
    ap.add_argument("--shape", choices=("planted", "upsampled"), default="planted", help="planted: 14%% copies of distinct rows; upsampled: most rows are edited copies of a small pool")
    args = ap.parse_args()
    from sftdata.clean.sketch import SketchConfig, Sketcher, jaccard

    work = Path(tempfile.mkdtemp(prefix="dedup_bench_"))
    data = work / "sharegpt.jsonl"
    pairs = (build_upsampled if args.shape == "upsampled" else build)(data, args.records)
    print(f"data ({args.shape}): {args.records} records, {data.stat().st_size / 1e6:.0f} MB, {len(pairs)} planted copies")

    texts = _texts(data)
    sk = Sketcher(SketchConfig())
    rng = random.Random(1)
    sample = rng.sample(pairs, min(args.sample, len(pairs)))
    labelled = []
    for a, b in sample:
        batch = sk.shingle([texts[a], texts[b]])
        labelled.append((a, b, jaccard(batch.set(0), batch.set(1))))
    positives = [(a, b) for a, b, j in labelled if j >= 0.8]
    print(f"labelled sample: {len(labelled)} planted pairs, {len(positives)} with true Jaccard >= 0.8")

    runs: dict[int, list] = {1: [], 2: []}
    for r in range(args.repeats):
        for workers in (1, 2):
            out = work / f"run{r}w{workers}"
            out.mkdir()
            runs[workers].append(isolated(run_sftdata, data, out, workers))
    base_secs, base_rss, base = isolated(run_datasketch, data)
    base_rate = args.records / base_secs
    print(f"datasketch MinHashLSH (1 process): {base_secs:.2f} s ({base['cpu']:.2f} s CPU), {base_rate:,.0f} rec/s, peak RSS {base_rss:.0f} MiB, dropped {base['result']}")
    for workers, ours in runs.items():
        secs, rss, res = sorted(ours, key=lambda x: x[0])[len(ours) // 2]
        rate = args.records / secs
        cpu = f", CPU-time ratio {base['cpu'] / res['cpu']:.1f}x" if workers == 1 else ""
        print(f"sftdata dedup --mode near, {workers} process(es): median {secs:.2f} s of {args.repeats} ({', '.join(f'{x[0]:.2f}' for x in ours)}), "
              f"{rate:,.0f} rec/s, peak RSS {rss:.0f} MiB (main process), dropped {res['result']['report']['rejected']}; speed ratio {rate / base_rate:.1f}x (acceptance >= 5x){cpu}")
    dups = runs[1][0][2]["result"]["dups"]

    def root(i: int) -> int:
        while i in dups:
            i = dups[i]
        return i

    found = sum(root(a) == root(b) for a, b in positives)
    recall = found / max(1, len(positives))
    same = all(r[2]["result"]["dups"] == dups for rs in runs.values() for r in rs)
    print(f"recall on pairs with Jaccard >= 0.8: {found}/{len(positives)} = {recall:.4f}  (acceptance >= 0.95); identical drops in every run: {same}")
    mh = minhash_only(texts[:20000])
    print("MinHash alone, records/s: " + ", ".join(f"{k} {v:,.0f}" for k, v in mh.items()))


if __name__ == "__main__":
    main()
