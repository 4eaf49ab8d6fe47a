"""The Ray executor against a real local Ray cluster: same metrics as the local executor."""

import json

import pytest

from latentlab.repro.store import RunStore

pytest.importorskip("ray")


def _metrics(path):
    with RunStore(path) as store:
        return {r.seed: r.metrics for r in store.runs(status="finished")}, {r.executor for r in store.runs()}


def test_ray_and_local_executors_agree(cli, tmp_path):
    common = ["reproduce", "selftest", "--budget", "smoke", "--seeds", "3", "--set", "use_torch=true"]
    local = cli(*common, "--store", str(tmp_path / "local.sqlite"))
    assert local.returncode == 0, local.stderr
    ray = cli(*common, "--executor", "ray", "--workers", "2", "--store", str(tmp_path / "ray.sqlite"), timeout=300)
    assert ray.returncode == 0, ray.stderr
    local_metrics, local_exec = _metrics(tmp_path / "local.sqlite")
    ray_metrics, ray_exec = _metrics(tmp_path / "ray.sqlite")
    assert (local_exec, ray_exec) == ({"local"}, {"ray"})
    assert json.dumps(local_metrics, sort_keys=True) == json.dumps(ray_metrics, sort_keys=True)
