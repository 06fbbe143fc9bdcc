"""Decode workers follow the cores this process may use (no fixed cap)."""

from __future__ import annotations

import os

import pytest

from benchbase.extract import device


def _fake_cores(monkeypatch: pytest.MonkeyPatch, n: int, quota: int | None = None) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(n)), raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: n)
    monkeypatch.setattr(device, "_cgroup_cpu_quota", lambda: quota)


@pytest.mark.parametrize(("cores", "workers"), [(1, 0), (2, 1), (8, 7), (16, 15), (64, 63)])
def test_loader_workers_use_every_core_but_one(
    monkeypatch: pytest.MonkeyPatch, cores: int, workers: int
) -> None:
    _fake_cores(monkeypatch, cores)
    assert device.loader_workers() == workers


def test_loader_workers_without_affinity_use_cpu_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    monkeypatch.setattr(device, "_cgroup_cpu_quota", lambda: None)
    assert device.loader_workers() == 15


def test_loader_workers_respect_a_cgroup_quota(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_cores(monkeypatch, 16, quota=4)
    assert device.loader_workers() == 3


def test_cgroup_quota_parsing(tmp_path) -> None:
    f = tmp_path / "cpu.max"
    f.write_text("max 100000\n")
    assert device._cgroup_cpu_quota(f) is None
    f.write_text("250000 100000\n")
    assert device._cgroup_cpu_quota(f) == 2
    f.write_text("50000 100000\n")
    assert device._cgroup_cpu_quota(f) == 1
    assert device._cgroup_cpu_quota(tmp_path / "absent") is None
