"""Shared fixtures: the real example data and the real models, loaded once per session."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from watchkeeper.config import Settings, VisionConfig, load_settings
from watchkeeper.vision import FaceAnalyzer
from watchkeeper.vision.runtime_openvino import cpu_has_bf16

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "data"
CLIP = EXAMPLES / "video" / "facenet-pytorch-video.mp4"
DEEPFACE = EXAMPLES / "deepface-pairs"


@pytest.fixture(scope="session")
def examples() -> Path:
    return EXAMPLES


@pytest.fixture(scope="session")
def clip() -> Path:
    return CLIP


@pytest.fixture(scope="session")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer.from_config(Settings().vision)


# Every engine and precision a deployment can run the models on (vision.runtime, precision).
RUNTIMES = [("onnxruntime", "f32"), ("openvino", "f32"), ("openvino", "bf16")]


@pytest.fixture(scope="session", params=RUNTIMES, ids=["-".join(case) for case in RUNTIMES])
def runtime_vision(request: pytest.FixtureRequest) -> VisionConfig:
    """The default vision settings on each runtime in turn (bf16 only where the CPU has it),
    the detector included (``auto`` would always run it on ONNX Runtime in f32)."""
    name, precision = request.param
    if precision == "bf16" and not cpu_has_bf16():
        pytest.skip("this CPU has no bf16 instructions (OpenVINO lists none)")
    return VisionConfig(runtime=name, detector_runtime=name, precision=precision)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data")


PG_SERVER = "postgres@127.0.0.1:5432"


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[str]:
    """A throw-away database on the real local PostgreSQL, dropped after the module.

    Skips the module where no server listens on 127.0.0.1:5432 (`make test` starts one).
    """
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(
            "host=127.0.0.1 port=5432 user=postgres dbname=postgres",
            autocommit=True,
            connect_timeout=3,
        )
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server at {PG_SERVER}: {exc}")
    name = f"wk_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
