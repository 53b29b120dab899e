"""Shared fixtures: where the reference data lives (../shared/data beside the project).

Locally, tests that need it skip when it is absent (the reason shows in the summary). With `CI` set, a missing
../shared/data fails the whole run at start: a CI run that skips its data-dependent tests proves nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
MLPERF = {
    "ic": "pretrainedResnet_quant.tflite",
    "vww": "vww_96_int8.tflite",
    "kws": "kws_ref_model.tflite",
    "ad": "ad01_int8.tflite",
}


def pytest_configure(config) -> None:
    if os.environ.get("CI") and not SHARED_DATA.is_dir():
        pytest.exit(
            f"CI is set but the shared reference data {SHARED_DATA} (../shared/data beside the project) is absent; "
            "the data-dependent tests cannot run, so the test run fails",
            returncode=4,
        )


def mlperf_path(key: str) -> Path:
    p = SHARED_DATA / "mlperf_tiny" / MLPERF[key]
    if not p.exists():
        pytest.skip(f"reference model {p.name} not available (../shared/data is absent)")
    return p


@pytest.fixture(params=sorted(MLPERF))
def mlperf_model(request) -> Path:
    """Each of the four MLPerf Tiny int8 reference models."""
    return mlperf_path(request.param)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is absent")
    return SHARED_DATA
