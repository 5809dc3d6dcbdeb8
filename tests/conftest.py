from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from _paths import REALDATA
from _raydata import BUCKET

from sftdata.engines.base import Engine


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Under ``pytest -n N``, tests marked ``xdist_group`` run on one worker (the Ray tests:
    one local Ray for the run, not one per worker on a two-core machine); the others are
    spread as with xdist's default ``load``."""
    if getattr(config.option, "dist", None) == "load":
        config.option.dist = "loadgroup"


@pytest.fixture
def realdata() -> Path:
    """The LLaMA-Factory demo datasets; tests using it skip when the folder is absent."""
    if not REALDATA.is_dir():
        pytest.skip(f"real data not available at {REALDATA}")
    return REALDATA


@pytest.fixture(scope="session")
def s3_env() -> Iterator[object]:
    """A moto S3 server on 127.0.0.1 with the bucket of the Ray tests, for the whole session;
    credentials and endpoint are in the environment, as they would be for a real bucket."""
    pytest.importorskip("s3fs")
    pytest.importorskip("flask")
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    keys = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL=f"http://{host}:{port}")
    import fsspec

    fsspec.filesystem("s3").clear_instance_cache()
    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    fs.mkdir(BUCKET)
    try:
        yield fs
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        fsspec.filesystem("s3").clear_instance_cache()


@pytest.fixture(scope="session")
def engine(s3_env: object) -> Iterator[Engine]:
    """The one local Ray (2 CPUs) of the test session, started after the S3 server so that
    its workers see the endpoint; skips cleanly where ``ray`` is not installed."""
    ray = pytest.importorskip("ray")
    from sftdata.engines.ray import connect

    eng = Engine("ray", cpus=2)
    try:
        connect(eng)
    except Exception as exc:
        # Ray gives its raylet 30 s to register (two attempts here): a machine that busy
        # cannot run these tests; that is no verdict on the engine.
        if "timed out during startup" not in str(exc):
            raise
        pytest.skip(f"a local Ray could not start on this machine (load {os.getloadavg()[0]:.0f}): {exc}")
    try:
        yield eng
    finally:
        ray.shutdown()
