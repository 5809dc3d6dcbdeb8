"""The local engine's worker pool: workers that ``Pool.terminate`` can always end."""

from __future__ import annotations

import signal
import sys
import threading

import pytest

from sftdata.engines.local import worker_pool


def _state() -> tuple[object, int]:
    return signal.getsignal(signal.SIGTERM), threading.active_count()


def _custom(*_: object) -> None:  # a parent's own handler, inherited by a forked worker
    raise KeyboardInterrupt


def test_workers_die_by_the_default_sigterm_action_with_one_thread() -> None:
    """Regression: workers once caught SIGTERM in Python and ran an orphan-watch thread.
    When the kernel handed the pool's SIGTERM to that thread while the main thread waited
    on the task queue's lock, the worker never exited and ``Pool.terminate`` (so the CLI
    and CI) hung forever. The default action ends the process whichever thread it lands on."""
    before = signal.signal(signal.SIGTERM, _custom)
    try:
        with worker_pool(2) as pool:
            states = [pool.apply_async(_state).get(timeout=60) for _ in range(4)]
            pool.terminate()
    finally:
        signal.signal(signal.SIGTERM, before)
    for handler, threads in states:
        assert handler == signal.SIG_DFL
        if sys.platform.startswith("linux"):  # the parent-death signal replaces the watcher
            assert threads == 1


def _hang() -> None:
    lock = threading.Lock()
    lock.acquire()
    threading.Thread(target=lambda: threading.Event().wait(), daemon=True).start()
    lock.acquire()  # never returns


@pytest.mark.timeout(120)
def test_terminate_ends_workers_blocked_in_a_lock() -> None:
    pool = worker_pool(2)
    for _ in range(2):
        pool.apply_async(_hang)
    done = threading.Event()
    threading.Thread(target=lambda: (pool.terminate(), done.set()), daemon=True).start()
    assert done.wait(60), "Pool.terminate hung on a blocked worker"
