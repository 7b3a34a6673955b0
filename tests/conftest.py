"""Shared fixtures: the NAS-Bench-201 table (offline or shipped), the offline data (skipped when
absent, required under CI) and the broker marker."""
from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def data_root() -> Path | None:
    candidates = [os.environ.get("RLNAS_DATA"), ROOT.parent / "shared" / "data"]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def _require(what: str, available: bool, variable: str) -> None:
    if available:
        return
    if os.environ.get(variable) == "1":
        pytest.fail(f"{what} is required ({variable}=1) but not available")
    pytest.skip(f"{what} not available (set RLNAS_DATA to the offline data folder)")


def offline_table() -> Path | None:
    """The NAS-Bench-201 CSV of the offline data folder, if there is one."""
    root = data_root()
    path = root / "nasbench201" / "nb201_accuracies.csv" if root else None
    return path if path is not None and path.is_file() else None


@pytest.fixture(scope="session")
def nb201_table_path(tmp_path_factory) -> Path:
    """A NAS-Bench-201 CSV: RLNAS_NB201_TABLE's, the offline folder's, else the shipped table's values."""
    configured = os.environ.get("RLNAS_NB201_TABLE")
    if configured:
        return Path(configured)
    path = offline_table()
    if path is None:
        from nas_bench_201.benchmark import SHIPPED_TABLE, BenchmarkTable

        path = tmp_path_factory.mktemp("nb201") / "nb201_accuracies.csv"
        BenchmarkTable.load(SHIPPED_TABLE).save(path)
    return path


@pytest.fixture(scope="session")
def offline_nb201_table() -> Path:
    """The offline folder's CSV (skipped when absent, required under RLNAS_REQUIRE_DATA=1)."""
    path = offline_table()
    _require("the offline NAS-Bench-201 table", path is not None, "RLNAS_REQUIRE_DATA")
    return path


@pytest.fixture(scope="session")
def cifar10_folder() -> Path:
    root = data_root()
    path = root / "cifar10" if root else None
    _require("the CIFAR-10 image folder", path is not None and (path / "train").is_dir(), "RLNAS_REQUIRE_DATA")
    return path


def broker_available(host: str = "127.0.0.1", port: int = 5672) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def pytest_runtest_setup(item):
    if "broker" in item.keywords and not broker_available():
        if os.environ.get("RLNAS_REQUIRE_BROKER") == "1":
            pytest.fail("the RabbitMQ broker on 127.0.0.1:5672 is required (RLNAS_REQUIRE_BROKER=1) but not reachable")
        pytest.skip("no RabbitMQ broker on 127.0.0.1:5672")
