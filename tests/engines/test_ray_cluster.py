"""A simulated two-node Ray cluster (``ray.cluster_utils.Cluster``, one CPU per node) gives
the local engine's answers for convert and near dedup, with actors on both nodes. In a
subprocess: a process holds one Ray, and test_ray.py's is another."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _paths import ROOT
from _raydata import mixed as _mixed

from sftdata.api import convert
from sftdata.clean.dedup import DedupConfig, dedup

pytestmark = pytest.mark.xdist_group("ray")  # one Ray at a time on the machine (see test_ray.py)

_TWO_NODES = r"""
import json, sys
from pathlib import Path
from ray.cluster_utils import Cluster
cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
cluster.add_node(num_cpus=1)
cluster.wait_for_nodes()
from sftdata.api import convert
from sftdata.clean.dedup import DedupConfig, dedup
from sftdata.engines import convert as convert_module, ray as engine_ray
from sftdata.clean import fingerprint as fingerprint_module
from sftdata.engines.base import Engine
convert_module.CHUNK_BYTES = fingerprint_module.CHUNK_BYTES = 4096
src, out = Path(sys.argv[1]), Path(sys.argv[2])
engine = Engine("ray", address=cluster.address)
result = convert(src, out / "ray.jsonl", to="openai", from_="sharegpt", rejects=out / "ray.rej.jsonl", engine=engine)
near = dedup(src, out / "ray.dedup.jsonl", DedupConfig(), rejects=out / "ray.dedup.rej.jsonl", format="sharegpt", engine=engine)
nodes = sorted({node for node, _ in engine_ray.usage(engine)})
print(json.dumps({"convert": result.to_dict(), "dedup": near.to_dict(), "nodes": len(nodes)}), flush=True)
import ray
ray.shutdown()
cluster.shutdown()
"""


def test_two_node_cluster_gives_the_same_answers(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    src = _mixed(tmp_path / "in.jsonl")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run([sys.executable, "-c", _TWO_NODES, str(src), str(tmp_path)], capture_output=True, text=True, env=env, timeout=600, check=False)
    if done.returncode != 0 and "timed out during startup" in done.stderr:
        pytest.skip(f"a two-node Ray could not start on this machine (load {os.getloadavg()[0]:.0f})")
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-6000:])
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    local = convert(src, tmp_path / "local.jsonl", to="openai", from_="sharegpt", rejects=tmp_path / "local.rej.jsonl", workers=1)
    near = dedup(src, tmp_path / "local.dedup.jsonl", DedupConfig(), rejects=tmp_path / "local.dedup.rej.jsonl", format="sharegpt", workers=1)
    assert seen == {"convert": local.to_dict(), "dedup": near.to_dict(), "nodes": 2}
    for name in ("", ".rej", ".dedup", ".dedup.rej"):
        assert (tmp_path / f"ray{name}.jsonl").read_bytes() == (tmp_path / f"local{name}.jsonl").read_bytes(), name
