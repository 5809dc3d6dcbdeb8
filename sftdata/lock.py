"""The dataset lock: exactly which data a run trains on, pinned in one JSON file.

``sftdata lock`` records, per file, its sha256 and size, an order-free digest of its
lines, its format and kinds, its record count, the validation summary and the token
totals under a named tokenizer and template; one ``digest`` covers all of it (the file
contents in order, the formats, the tokenizer's and template's fingerprints and
``cutoff_len``). :func:`compare` says what changed since (files, order, counts, tokens,
tokenizer); an unchanged dataset verifies with one streaming read of each file, nothing
decoded. ``sftdata train`` with ``dataset_lock:`` refuses data that does not match
(:func:`verify`). The JSON form (schema ``sftdata.lock/1``)::

    {"schema": "sftdata.lock/1", "digest": "sha256:...",
     "settings": {"tokenizer": "qwen2.5", "tokenizer_fingerprint": "...", "template": "qwen",
                  "template_fingerprint": "...", "cutoff_len": 2048, "profile": "sftdata"},
     "files": [{"path": "train.jsonl", "sha256": "...", "size": 1234, "lines_digest": "...",
                "format": "sharegpt", "kinds": {"sft": 4}, "records": 4,
                "validation": {"profile": "sftdata", "valid": 4, "rejected": 0, "errors": 0,
                               "warnings": 1, "rules": {"empty-system": 1}},
                "tokens": {"total": 180, "trainable": 73, "over_cutoff": 0,
                           "cut_trainable": 0, "zero_trainable": 0}}]}

>>> lk = lock(["fixtures/sharegpt/sft.jsonl"], tokenizer=None)
>>> lk.files[0].records, lk.files[0].format
(4, 'sharegpt')
>>> compare(lk, base=".").unchanged
True
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson

from .errors import DataError, ReadError, UsageError

SCHEMA = "sftdata.lock/1"
PathLike = str | os.PathLike[str]
# What the tokenizer fingerprint encodes: scripts, code, digits, emoji, whitespace runs.
PROBE = "Hello, world! 你好，世界。 Привет   мир\n\tdef f(x):\n        return x ** 2  # 1234567890 🙂 ünïcödé"
_MASK = (1 << 128) - 1
TOKENIZED_MANIFEST = "sftdata_tokenized.json"  # tokenize/store.py's MANIFEST


@dataclass(frozen=True)
class Settings:
    """How the token totals were counted; fingerprints tell the same tokenizer or template
    under another name (a model folder vs ``qwen2.5``) from a different one."""

    tokenizer: str | None = None
    tokenizer_fingerprint: str | None = None
    template: str | None = None
    template_fingerprint: str | None = None
    cutoff_len: int | None = None
    profile: str = "sftdata"


@dataclass(frozen=True)
class FileEntry:
    """One locked file (``path`` relative to the lock file's folder when it is below it)."""

    path: str
    sha256: str
    size: int
    lines_digest: str
    format: str | None = None
    kinds: dict[str, int] = field(default_factory=dict)
    records: int | None = None
    validation: dict[str, Any] | None = None
    tokens: dict[str, int] | None = None


@dataclass(frozen=True)
class DatasetLock:
    files: tuple[FileEntry, ...]
    settings: Settings = Settings()

    @property
    def digest(self) -> str:
        """sha256 over the file contents in order, their formats and the settings (not
        the paths: a moved file is the same data)."""
        s = self.settings
        body = {
            "files": [[f.sha256, f.format] for f in self.files],
            "tokenizer": s.tokenizer_fingerprint,
            "template": s.template_fingerprint,
            "cutoff_len": s.cutoff_len,
            "profile": s.profile,
        }
        return "sha256:" + hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "digest": self.digest, "settings": asdict(self.settings), "files": [asdict(f) for f in self.files]}

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "<lock>") -> DatasetLock:
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise ReadError(f"{where} is not a dataset lock (schema {SCHEMA}).", path=where, remedy="Create one with `sftdata lock INPUT... -o sftdata.lock.json`.")
        try:
            out = cls(tuple(FileEntry(**f) for f in data["files"]), Settings(**data["settings"]))
        except (KeyError, TypeError) as err:
            raise ReadError(f"{where} is a damaged dataset lock ({err}).", path=where, remedy="Create it again with `sftdata lock`.") from None
        if data.get("digest") != out.digest:
            raise ReadError(f"{where} was edited by hand: its digest does not match its content.", path=where, remedy="Create it again with `sftdata lock`.")
        return out

    def write(self, path: PathLike) -> None:
        from .io import atomic_path

        with atomic_path(path) as tmp:
            tmp.write_bytes(orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))


def read_lock(path: PathLike) -> DatasetLock:
    try:
        data = orjson.loads(Path(path).read_bytes())
    except FileNotFoundError:
        raise UsageError(f"dataset lock {path} does not exist.", field="--lock", remedy="Create it with `sftdata lock INPUT... -o sftdata.lock.json`.") from None
    except orjson.JSONDecodeError as err:
        raise ReadError(f"{path} is not JSON ({err}).", path=str(path), remedy="Create it again with `sftdata lock`.") from None
    return DatasetLock.from_dict(data, str(path))


def hash_file(path: PathLike) -> tuple[str, int, str]:
    """``(sha256, size, lines_digest)`` in one streaming read. ``lines_digest`` is the sum
    of the lines' 128-bit hashes: equal for the same lines in any order (a shuffled file)."""
    sha = hashlib.sha256()
    size, total, tail = 0, 0, b""
    blake = hashlib.blake2b
    try:
        fh = open(path, "rb", buffering=0)
    except OSError as err:
        raise ReadError(f"cannot read {path}: {err.strerror}.", path=str(path), remedy="Check the path in the lock or on the command line.") from None
    with fh:
        while block := fh.read(1 << 20):
            sha.update(block)
            size += len(block)
            lines = (tail + block).split(b"\n")
            tail = lines.pop()
            for line in lines:
                line = line.rstrip(b"\r")
                if line.strip():
                    total += int.from_bytes(blake(line, digest_size=16).digest(), "little")
    if tail.strip():
        total += int.from_bytes(blake(tail.rstrip(b"\r"), digest_size=16).digest(), "little")
    return sha.hexdigest(), size, f"{total & _MASK:032x}"


def _fingerprint(values: Any) -> str:
    return hashlib.sha256(orjson.dumps(values)).hexdigest()[:16]


def settings_for(tokenizer: Any, template: Any, cutoff_len: int | None, profile: str = "sftdata") -> Settings:
    """Settings naming a loaded tokenizer and template, with their fingerprints (the ids of
    :data:`PROBE`; the text and trained spans of a two-turn conversation)."""
    from .record import Message, SFTRecord

    if tokenizer is None:
        return Settings(cutoff_len=cutoff_len, profile=profile)
    rec = SFTRecord(messages=(Message(role="system", content="S"), Message(role="user", content=PROBE), Message(role="assistant", content="A")))
    rendered = template.render(rec)
    tok_fp = _fingerprint([tokenizer.vocab_size, tokenizer.encode(PROBE), tokenizer.eos_token])
    tpl_fp = _fingerprint([[text, span.trainable] for text, span in rendered.pieces()])
    return Settings(tokenizer.name, tok_fp, template.name, tpl_fp, cutoff_len, profile)


def load_settings(tokenizer: str | None, template: str = "qwen", cutoff_len: int | None = None, profile: str = "sftdata") -> Settings:
    if tokenizer is None:
        return Settings(cutoff_len=cutoff_len, profile=profile)
    from .templates import get_template
    from .tokenizers import get_tokenizer

    tok = get_tokenizer(tokenizer)
    return settings_for(tok, get_template(template, tokenizer=tok), cutoff_len, profile)


def _relative(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


def entry_of(path: PathLike, settings: Settings, *, base: PathLike = ".", digests: tuple[str, int, str] | None = None) -> FileEntry:
    """Lock one file: its digests, then validation and (with a tokenizer) token totals."""
    from .validate import validate

    p = Path(path)
    sha, size, lines = digests or hash_file(p)
    v = validate(p, settings.profile, check_media=False)
    summary = {"profile": v.profile, "valid": v.valid, "rejected": v.rejected, "errors": v.errors, "warnings": v.warnings, "rules": v.codes()}
    tokens = None
    if settings.tokenizer is not None and v.format is not None and v.valid:
        from .io.rejects import RejectSink
        from .stats.compute import StatsConfig, token_stats

        config = StatsConfig(tokenizer=settings.tokenizer, template=settings.template or "qwen", cutoff_len=settings.cutoff_len, format=v.format)
        with RejectSink(None) as sink:  # invalid rows are counted by validation
            s = token_stats(p, config, rejects=sink)
        tokens = {"total": s.tokens, "trainable": s.trainable_tokens, "over_cutoff": s.over_cutoff, "cut_trainable": s.cut_trainable, "zero_trainable": s.zero_trainable}
    return FileEntry(_relative(p, Path(base)), sha, size, lines, v.format, dict(sorted(v.kinds.items())), v.total, summary, tokens)


def lock(inputs: Sequence[PathLike], *, tokenizer: str | None = "qwen2.5", template: str = "qwen", cutoff_len: int | None = None, profile: str = "sftdata", base: PathLike = ".") -> DatasetLock:
    """Lock ``inputs`` (in this order: the order of a mixture matters). Paths are stored
    relative to ``base`` (the lock file's folder) when they are below it.

    Args:
        inputs: dataset files.
        tokenizer: tokenizer for the token totals; ``None`` skips them.
        template: the chat template the trainer applies.
        cutoff_len: the trainer's ``cutoff_len`` (the totals then say what it cuts).
        profile: validation profile of the summary.
        base: folder the stored paths are relative to.
    """
    if not inputs:
        raise UsageError("nothing to lock.", remedy="Give one or more dataset files.")
    settings = load_settings(tokenizer, template, cutoff_len, profile)
    return DatasetLock(tuple(entry_of(p, settings, base=base) for p in inputs), settings)


@dataclass(frozen=True)
class Change:
    """One difference: ``what`` is ``file``, ``order``, ``records``, ``validation``,
    ``tokens``, ``tokenizer``, ``template``, ``cutoff_len`` or ``profile``."""

    what: str
    path: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"what": self.what, "path": self.path, "message": self.message}


@dataclass
class LockDiff:
    """What :func:`compare` found; ``current`` is the lock of the data as it is now
    (unchanged files keep their locked entries: they were only hashed)."""

    locked: DatasetLock
    current: DatasetLock
    changes: list[Change]
    hashed: int = 0  # files read once to hash them
    recounted: int = 0  # files decoded again because they or the settings changed

    @property
    def unchanged(self) -> bool:
        return not self.changes

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "sftdata.lock-diff/1",
            "unchanged": self.unchanged,
            "locked_digest": self.locked.digest,
            "current_digest": self.current.digest,
            "changes": [c.to_dict() for c in self.changes],
            "hashed": self.hashed,
            "recounted": self.recounted,
        }


def _delta(old: int | None, new: int | None) -> str:
    if old is None or new is None:
        return f"{old} -> {new}"
    return f"{old:,} -> {new:,} ({new - old:+,})"


def _entry_changes(old: FileEntry, new: FileEntry) -> list[Change]:
    out: list[Change] = []
    if old.sha256 != new.sha256:
        same_lines = old.lines_digest == new.lines_digest
        what = "the same lines in another order" if same_lines else f"content changed, {_delta(old.size, new.size)} bytes"
        out.append(Change("file", new.path, f"{new.path}: {what} (sha256 {old.sha256[:12]} -> {new.sha256[:12]})."))
    if old.format != new.format:
        out.append(Change("file", new.path, f"{new.path}: format {old.format} -> {new.format}."))
    if old.records != new.records or old.kinds != new.kinds:
        out.append(Change("records", new.path, f"{new.path}: records {_delta(old.records, new.records)}; kinds {old.kinds} -> {new.kinds}."))
    ov, nv = old.validation or {}, new.validation or {}
    if (ov.get("errors"), ov.get("warnings"), ov.get("rules")) != (nv.get("errors"), nv.get("warnings"), nv.get("rules")):
        rules = sorted(set(ov.get("rules", {})) | set(nv.get("rules", {})))
        moved = ", ".join(f"{r} {ov.get('rules', {}).get(r, 0)}->{nv.get('rules', {}).get(r, 0)}" for r in rules if ov.get("rules", {}).get(r, 0) != nv.get("rules", {}).get(r, 0))
        out.append(Change("validation", new.path, f"{new.path}: errors {_delta(ov.get('errors'), nv.get('errors'))}, warnings {_delta(ov.get('warnings'), nv.get('warnings'))}" + (f" ({moved})." if moved else ".")))
    if old.tokens != new.tokens:
        ot, nt = old.tokens or {}, new.tokens or {}
        parts = [f"{k} {_delta(ot.get(k), nt.get(k))}" for k in ("total", "trainable", "over_cutoff", "cut_trainable", "zero_trainable") if ot.get(k) != nt.get(k)]
        out.append(Change("tokens", new.path, f"{new.path}: tokens " + "; ".join(parts) + "."))
    return out


def _settings_changes(old: Settings, new: Settings) -> list[Change]:
    out = []
    if old.tokenizer_fingerprint != new.tokenizer_fingerprint:
        out.append(Change("tokenizer", None, f"tokenizer {old.tokenizer} -> {new.tokenizer} (it encodes text differently)." if old.tokenizer and new.tokenizer else f"tokenizer {old.tokenizer} -> {new.tokenizer}."))
    if old.template_fingerprint != new.template_fingerprint:
        out.append(Change("template", None, f"template {old.template} -> {new.template} (it renders conversations differently)."))
    if old.cutoff_len != new.cutoff_len:
        out.append(Change("cutoff_len", None, f"cutoff_len {old.cutoff_len} -> {new.cutoff_len}."))
    if old.profile != new.profile:
        out.append(Change("profile", None, f"validation profile {old.profile} -> {new.profile}."))
    return out


def compare(locked: DatasetLock, inputs: Sequence[PathLike] | None = None, *, base: PathLike = ".", settings: Settings | None = None) -> LockDiff:
    """What changed between ``locked`` and the data now.

    Each file is hashed once; when every hash and the settings match, that is all (one
    streaming pass). A changed file (or, under new settings, every file) is validated and
    counted again so that the difference can be told in records and tokens.

    Args:
        locked: the lock.
        inputs: the files now (default: the locked paths, relative to ``base``).
        base: the lock file's folder.
        settings: the settings now (default: the locked ones), e.g.
            ``load_settings("other-tokenizer")`` to see what a tokenizer changes.
    """
    b = Path(base)
    settings = settings or locked.settings
    paths = [Path(p) for p in inputs] if inputs is not None else [b / f.path for f in locked.files]
    names = [_relative(p, b) for p in paths]
    changes = _settings_changes(locked.settings, settings)
    by_path = {f.path: i for i, f in enumerate(locked.files)}
    digests = {}
    for p, name in zip(paths, names):
        if not p.is_file():
            raise ReadError(f"{p} does not exist (locked as {name!r}).", path=str(p), remedy="Restore the file, or lock the data again with `sftdata lock`.")
        digests[name] = hash_file(p)
    by_sha = {f.sha256: i for i, f in enumerate(locked.files)}
    matched: list[int | None] = []
    for name in names:
        i = by_path.get(name)
        if i is None:
            j = by_sha.get(digests[name][0])
            if j is not None and locked.files[j].path not in names:
                changes.append(Change("file", name, f"{locked.files[j].path} was moved to {name} (same content)."))
                i = j
            else:
                changes.append(Change("file", name, f"{name} is new (not in the lock)."))
        matched.append(i)
    for i, f in enumerate(locked.files):
        if i not in matched:
            changes.append(Change("file", f.path, f"{f.path} is gone (in the lock, not in the data)."))
    kept = [i for i in matched if i is not None]
    if kept != sorted(kept):
        changes.append(Change("order", None, f"the files are in another order: {', '.join(names)} (locked: {', '.join(f.path for f in locked.files)})."))
    entries, recounted = [], 0
    for p, name, i in zip(paths, names, matched):
        old = locked.files[i] if i is not None else None
        if old is not None and old.sha256 == digests[name][0] and settings == locked.settings:
            entries.append(replace(old, path=name))
            continue
        new = entry_of(p, settings, base=b, digests=digests[name])
        recounted += 1
        if old is not None:
            changes.extend(_entry_changes(replace(old, path=name), new))
        entries.append(new)
    return LockDiff(locked, DatasetLock(tuple(entries), settings), changes, len(paths), recounted)


class LockMismatch(DataError):
    code = "lock-mismatch"


def verify(lock_path: PathLike, inputs: Sequence[PathLike], settings: Settings) -> DatasetLock:
    """The lock at ``lock_path`` when ``inputs`` (in order) and ``settings`` match it
    (one hashing pass); else :class:`LockMismatch` listing what changed. The trainer's
    check: a mismatch is never counted again, only named."""
    path = Path(lock_path)
    locked = read_lock(path)
    b = path.parent
    names = [_relative(Path(p), b) for p in inputs]
    # the validation profile only shapes the lock's summary, not the data: not compared
    settings = replace(settings, profile=locked.settings.profile)
    changes = _settings_changes(locked.settings, settings) if locked.settings.tokenizer is not None else []
    if locked.settings.tokenizer is None and locked.settings.cutoff_len not in (None, settings.cutoff_len):
        changes.append(Change("cutoff_len", None, f"cutoff_len {locked.settings.cutoff_len} -> {settings.cutoff_len}."))
    locked_shas = [f.sha256 for f in locked.files]
    shas = [hash_file(p)[0] for p in inputs]
    if shas != locked_shas:
        for name, sha in zip(names, shas):
            if sha not in locked_shas:
                changes.append(Change("file", name, f"{name} is not the locked data (sha256 {sha[:12]})."))
        if sorted(shas) == sorted(locked_shas):
            changes.append(Change("order", None, "the files are in another order than locked."))
        elif len(shas) != len(locked_shas) or not changes:
            changes.append(Change("file", None, f"{len(shas)} files given, {len(locked_shas)} locked ({', '.join(f.path for f in locked.files)})."))
    if changes:
        listed = " ".join(c.message for c in changes)
        raise LockMismatch(f"the data does not match the dataset lock {path}: {listed}", path=str(path), field="dataset_lock", remedy=f"Train on the locked data, or see what changed with `sftdata check --lock {path}` and lock the data again with `sftdata lock ... -o {path}`.")
    return locked


def training_lock(lock_path: PathLike | None, files: Sequence[tuple[PathLike, Any]], tokenizer: Any, template: Any, cutoff_len: int | None) -> dict[str, Any]:
    """What ``sftdata train`` writes under ``dataset_lock`` in ``train_results.json``.

    With ``lock_path`` (``dataset_lock:`` in the config): that lock when ``files`` (in
    order), the tokenizer, the template and ``cutoff_len`` match it, else
    :class:`LockMismatch`, before any model is loaded. Without: a lock of the run's data
    made by hashing each file once (sha256, size, format; no counts), with the run's
    tokenizer and template named.

    Args:
        lock_path: the lock to enforce, or ``None``.
        files: ``(path, format)`` pairs; the format is ``"auto"`` or a format object.
        tokenizer: the run's tokenizer; template: its chat template.
        cutoff_len: the run's ``cutoff_len``.
    """
    settings = settings_for(tokenizer, template, cutoff_len)
    paths = [Path(p) for p, _ in files]
    if lock_path is not None:
        if any(p.is_dir() for p in paths):
            raise UsageError("dataset_lock checks data files, and this dataset is a tokenized folder.", field="dataset_lock", remedy="Drop dataset_lock: the folder's cache key already pins its inputs, tokenizer and options (`sftdata tokenize`).")
        return verify(lock_path, paths, settings).to_dict()
    entries = []
    for p, fmt in zip(paths, (f for _, f in files)):
        # a tokenized folder (`sftdata tokenize`): its manifest holds the cache key of its inputs
        sha, size, lines = hash_file(p / TOKENIZED_MANIFEST if p.is_dir() else p)
        if isinstance(fmt, str):
            from .detect import detect

            fmt_name = detect(p).format if fmt == "auto" else fmt
        else:
            fmt_name = fmt.name
        entries.append(FileEntry(_relative(p, Path(".")), sha, size, lines, fmt_name))
    return DatasetLock(tuple(entries), settings).to_dict()
