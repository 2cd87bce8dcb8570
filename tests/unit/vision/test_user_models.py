"""User-supplied SCRFD detectors and ArcFace recognisers, loaded by path through the factory.

The models are tiny ONNX graphs built here with ``onnx.helper`` whose outputs are known in
advance, so the tests check the decoding and normalisation against the published formulas
instead of against our own code: SCRFD's distance2bbox around cell corners
``(x·stride, y·stride)`` with two anchors per cell, and ArcFace's ``(x − 127.5) / 127.5`` on
RGB pixels followed by L2 normalisation.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from watchkeeper.config import ModelConfig, VisionConfig
from watchkeeper.vision import ModelError
from watchkeeper.vision.factory import load_detector, load_embedder

STRIDES = (8, 16, 32)
OPSET = 17

# The detector's score is sigmoid(GAIN · mean red of a 32×32 cell + BIAS) for the second
# anchor at stride 32, and sigmoid(COLD) (far below any threshold) everywhere else.
HOT_STRIDE = 32
GAIN, BIAS, COLD = 20.0, -10.0, -10.0
# Box distances (left, top, right, bottom) and landmark offsets, in units of the stride.
DISTANCES = np.array([0.5, 0.75, 1.0, 1.25], np.float32)
LANDMARKS = np.array([-0.3, -0.2, 0.3, -0.2, 0.0, 0.1, -0.25, 0.4, 0.25, 0.4], np.float32)

EMBEDDING_SIZE = 512
POOLED = 3 * 14 * 14  # the 112×112 input after an 8×8 average pool


def _save(model: onnx.ModelProto, path: Path) -> Path:
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _model(graph: onnx.GraphProto) -> onnx.ModelProto:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    return model


def build_scrfd(path: Path, fixed: tuple[int, int] | None = None, hard_code: bool = False) -> Path:
    """An SCRFD-like '_kps' detector: 9 outputs (scores, boxes, landmarks × strides 8/16/32).

    Each head is a stride×stride convolution of the input (so every output follows the input's
    size), transposed to cells-major and reshaped to (N, C) with N = 2 anchors × cells, the
    layout of InsightFace's exports. ``fixed`` declares a fixed input size, like exports made
    without dynamic axes; ``hard_code`` also writes its N into the reshapes, so that the graph
    runs at that size only.
    """
    initializers: list[onnx.TensorProto] = []
    nodes: list[onnx.NodeProto] = []

    def head(name: str, stride: int, weight: np.ndarray, bias: np.ndarray, sigmoid: bool) -> None:
        per_anchor = weight.shape[0] // 2
        initializers.append(numpy_helper.from_array(weight, f"{name}_w"))
        initializers.append(numpy_helper.from_array(bias, f"{name}_b"))
        conv_out = f"{name}_conv"
        nodes.append(
            helper.make_node(
                "Conv",
                ["input.1", f"{name}_w", f"{name}_b"],
                [conv_out],
                kernel_shape=[stride, stride],
                strides=[stride, stride],
            )
        )
        if sigmoid:
            nodes.append(helper.make_node("Sigmoid", [conv_out], [f"{name}_sig"]))
            conv_out = f"{name}_sig"
        nodes.append(helper.make_node("Transpose", [conv_out], [f"{name}_t"], perm=[0, 2, 3, 1]))
        rows = 2 * (fixed[0] // stride) * (fixed[1] // stride) if fixed and hard_code else -1
        initializers.append(numpy_helper.from_array(np.array([rows, per_anchor]), f"{name}_s"))
        nodes.append(helper.make_node("Reshape", [f"{name}_t", f"{name}_s"], [name]))

    outputs: list[onnx.ValueInfoProto] = []
    for kind in ("score", "bbox", "kps"):
        for stride in STRIDES:
            name = f"{kind}_{stride}"
            rows = 2 * (fixed[0] // stride) * (fixed[1] // stride) if fixed else f"n{stride}"
            width = {"score": 1, "bbox": 4, "kps": 10}[kind]
            outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [rows, width]))
            if kind == "score":
                weight = np.zeros((2, 3, stride, stride), np.float32)
                bias = np.full(2, COLD, np.float32)
                if stride == HOT_STRIDE:
                    weight[1, 0] = GAIN / stride**2  # channel 0 of the input: red, once RGB
                    bias[1] = BIAS
                head(name, stride, weight, bias, sigmoid=True)
            else:
                values = DISTANCES if kind == "bbox" else LANDMARKS
                weight = np.zeros((2 * len(values), 3, stride, stride), np.float32)
                head(name, stride, weight, np.tile(values, 2), sigmoid=False)

    size: list[int | str] = list(fixed) if fixed else ["?", "?"]
    graph = helper.make_graph(
        nodes,
        "tiny-scrfd",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, *size])],
        outputs,
        initializers,
    )
    return _save(_model(graph), path)


def build_arcface(
    path: Path, batch: int | str = "None", hard_coded_batch: bool = False, seed: int = 7
) -> tuple[Path, np.ndarray]:
    """An ArcFace-like recogniser: 8×8 average pool, flatten, multiply by a fixed matrix.

    The pool keeps the file small; what the test needs is a linear map whose weights differ
    per colour channel, so that a wrong channel order or offset changes the unit vector.
    ``hard_coded_batch`` flattens with ``Reshape([1, -1])``, like exports that only run at 1.
    """
    weight = np.random.default_rng(seed).standard_normal((POOLED, EMBEDDING_SIZE))
    weight = weight.astype(np.float32)
    initializers = [numpy_helper.from_array(weight, "fc_w")]
    if hard_coded_batch:
        initializers.append(numpy_helper.from_array(np.array([1, -1]), "flat_shape"))
        flatten = helper.make_node("Reshape", ["pooled", "flat_shape"], ["flat"])
    else:
        flatten = helper.make_node("Flatten", ["pooled"], ["flat"], axis=1)
    nodes = [
        helper.make_node(
            "AveragePool", ["input.1"], ["pooled"], kernel_shape=[8, 8], strides=[8, 8]
        ),
        flatten,
        helper.make_node("MatMul", ["flat", "fc_w"], ["683"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny-arcface",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [batch, 3, 112, 112])],
        [helper.make_tensor_value_info("683", TensorProto.FLOAT, [batch, EMBEDDING_SIZE])],
        initializers,
    )
    return _save(_model(graph), path), weight


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _config(
    detector: ModelConfig | None = None, embedder: ModelConfig | None = None, **options: object
) -> VisionConfig:
    fields: dict[str, object] = {"min_face_size": 8, **options}
    if "runtime" in options:  # the detector too: each engine is under test
        fields["detector_runtime"] = options["runtime"]
        # the decoding formulas are checked to the last digits: bf16 (auto on a CPU with it)
        # keeps 8 significant bits; its agreement on real faces is test_runtimes.py's job
        fields.setdefault("precision", "f32")
    if detector is not None:
        fields["detector"] = detector
    if embedder is not None:
        fields["embedder"] = embedder
    return VisionConfig.model_validate(fields)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + np.exp(-x))


def _red_cell_image(height: int, width: int, col: int, row: int) -> np.ndarray:
    """A black BGR image with one pure red 32×32 cell of the stride-32 grid."""
    image = np.zeros((height, width, 3), np.uint8)
    image[row * 32 : (row + 1) * 32, col * 32 : (col + 1) * 32] = (0, 0, 255)
    return image


def _expected_face(col: int, row: int, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Box and landmarks by the SCRFD formula, for the hot cell, in source pixels."""
    centre = np.array([col, row], np.float32) * HOT_STRIDE
    box = np.concatenate([centre - DISTANCES[:2] * HOT_STRIDE, centre + DISTANCES[2:] * HOT_STRIDE])
    points = LANDMARKS.reshape(5, 2) * HOT_STRIDE + centre
    return box / scale, points / scale


@pytest.fixture(params=["onnxruntime", "openvino"])
def runtime(request: pytest.FixtureRequest) -> str:
    """A user's model must run the same on either engine (vision.runtime)."""
    return str(request.param)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def scrfd_path(model_dir: Path) -> Path:
    return build_scrfd(model_dir / "scrfd_tiny_kps.onnx")


@pytest.fixture(scope="module")
def arcface(model_dir: Path) -> tuple[Path, np.ndarray]:
    return build_arcface(model_dir / "arcface_tiny.onnx")


# --- SCRFD decoding ----------------------------------------------------------------------


def test_scrfd_decodes_the_hot_cell_by_the_distance2bbox_formula(
    scrfd_path: Path, runtime: str
) -> None:
    detector = load_detector(_config(ModelConfig(kind="scrfd", path=scrfd_path), runtime=runtime))
    col, row = 5, 3
    faces = detector.detect(_red_cell_image(256, 320, col, row))

    box, points = _expected_face(col, row)
    assert len(faces) == 1
    np.testing.assert_allclose(faces.boxes[0], box, atol=1e-3)
    np.testing.assert_allclose(faces.landmarks[0], points, atol=1e-3)
    # the score pins the input normalisation: red channel first, (255 − 127.5) / 128
    red = (255 - 127.5) / 128
    assert faces.scores[0] == pytest.approx(_sigmoid(GAIN * red + BIAS), abs=1e-5)


def test_scrfd_ignores_a_blue_cell_because_it_reads_rgb(scrfd_path: Path, runtime: str) -> None:
    detector = load_detector(_config(ModelConfig(kind="scrfd", path=scrfd_path), runtime=runtime))
    image = _red_cell_image(256, 320, 5, 3)[:, :, ::-1].copy()  # the cell is now blue

    assert len(detector.detect(image)) == 0


def test_scrfd_maps_boxes_back_to_source_pixels_when_the_frame_is_scaled_down(
    scrfd_path: Path, runtime: str
) -> None:
    detector = load_detector(
        _config(ModelConfig(kind="scrfd", path=scrfd_path), detection_max_side=320, runtime=runtime)
    )
    col, row = 4, 2
    # 640×512 is analysed at 320×256: the red block must cover one stride-32 cell there
    image = np.zeros((512, 640, 3), np.uint8)
    image[row * 64 : (row + 1) * 64, col * 64 : (col + 1) * 64] = (0, 0, 255)

    faces = detector.detect(image)

    box, points = _expected_face(col, row, scale=0.5)
    assert len(faces) == 1
    np.testing.assert_allclose(faces.boxes[0], box, atol=1e-2)
    np.testing.assert_allclose(faces.landmarks[0], points, atol=1e-2)


@pytest.mark.parametrize(
    ("hard_coded", "runs_at"), [(False, None), (True, (640, 640))], ids=["convolutional", "reshape"]
)
def test_scrfd_declared_at_640x640_runs_freed_unless_its_graph_is_fixed(
    model_dir: Path, hard_coded: bool, runs_at: tuple[int, int] | None, runtime: str
) -> None:
    path = build_scrfd(
        model_dir / f"scrfd_shape640x640_{hard_coded}.onnx", fixed=(640, 640), hard_code=hard_coded
    )
    detector = load_detector(_config(ModelConfig(kind="scrfd", path=path), runtime=runtime))
    col, row = 7, 6
    faces = detector.detect(_red_cell_image(480, 640, col, row))

    assert detector.fixed_size == runs_at  # type: ignore[attr-defined]
    box, points = _expected_face(col, row)
    assert len(faces) == 1
    np.testing.assert_allclose(faces.boxes[0], box, atol=1e-2)
    np.testing.assert_allclose(faces.landmarks[0], points, atol=1e-2)


def test_scrfd_min_face_size_drops_faces_smaller_than_the_setting(
    scrfd_path: Path, runtime: str
) -> None:
    # the decoded box is (0.5 + 1.0) × (0.75 + 1.25) strides = 48 × 64 px: its shorter side is 48
    image = _red_cell_image(256, 320, 5, 3)
    kept = load_detector(
        _config(ModelConfig(kind="scrfd", path=scrfd_path), min_face_size=48, runtime=runtime)
    )
    dropped = load_detector(
        _config(ModelConfig(kind="scrfd", path=scrfd_path), min_face_size=49, runtime=runtime)
    )

    assert len(kept.detect(image)) == 1
    assert len(dropped.detect(image)) == 0


# --- ArcFace normalisation and batching ----------------------------------------------------


def _crops(count: int, seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, 112, 112, 3), dtype=np.uint8)


def _arcface_reference(crops: np.ndarray, weight: np.ndarray) -> np.ndarray:
    rgb = crops[..., ::-1].astype(np.float64)
    blob = ((rgb - 127.5) / 127.5).transpose(0, 3, 1, 2)
    pooled = blob.reshape(len(crops), 3, 14, 8, 14, 8).mean(axis=(3, 5)).reshape(len(crops), -1)
    vectors = pooled @ weight.astype(np.float64)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_arcface_normalises_rgb_to_minus_one_one_and_l2_normalises(
    arcface: tuple[Path, np.ndarray], runtime: str
) -> None:
    path, weight = arcface
    embedder = load_embedder(
        _config(embedder=ModelConfig(kind="arcface", path=path), runtime=runtime)
    )
    crops = _crops(3)

    vectors = embedder.embed(crops)

    assert vectors.shape == (3, EMBEDDING_SIZE)
    assert embedder.dimension == EMBEDDING_SIZE
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vectors, _arcface_reference(crops, weight), atol=1e-4)


@pytest.mark.parametrize(
    ("batch", "hard_coded"),
    [("None", False), (1, False), (1, True)],
    ids=["dynamic", "fixed", "reshape"],
)
def test_arcface_batch_gives_the_same_vectors_as_one_by_one(
    model_dir: Path, batch: int | str, hard_coded: bool, runtime: str
) -> None:
    path, _ = build_arcface(
        model_dir / f"arcface_{batch}_{hard_coded}.onnx", batch=batch, hard_coded_batch=hard_coded
    )
    embedder = load_embedder(
        _config(embedder=ModelConfig(kind="arcface", path=path), runtime=runtime)
    )
    crops = _crops(40)  # more than one chunk of 32

    together = embedder.embed(crops)
    alone = np.concatenate([embedder.embed(crops[i : i + 1]) for i in range(len(crops))])

    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_arcface_embeds_no_crops_to_an_empty_batch(
    arcface: tuple[Path, np.ndarray], runtime: str
) -> None:
    embedder = load_embedder(
        _config(embedder=ModelConfig(kind="arcface", path=arcface[0]), runtime=runtime)
    )

    assert embedder.embed(np.zeros((0, 112, 112, 3), np.uint8)).shape == (0, EMBEDDING_SIZE)


# --- the factory: names, checksums and refusals ---------------------------------------------


def test_template_model_name_records_kind_file_stem_and_version(
    arcface: tuple[Path, np.ndarray],
) -> None:
    spec = ModelConfig(kind="arcface", path=arcface[0], version="2024-01")
    embedder = load_embedder(_config(embedder=spec))

    assert embedder.model == "arcface:arcface_tiny@2024-01"


def test_detector_name_records_kind_file_stem_and_version(scrfd_path: Path) -> None:
    detector = load_detector(_config(ModelConfig(kind="scrfd", path=scrfd_path, version="3")))

    assert detector.name == "scrfd:scrfd_tiny_kps@3"


def test_matching_sha256_is_accepted_in_either_case(
    scrfd_path: Path, arcface: tuple[Path, np.ndarray]
) -> None:
    detector_spec = ModelConfig(kind="scrfd", path=scrfd_path, sha256=_sha256(scrfd_path).upper())
    embedder_spec = ModelConfig(kind="arcface", path=arcface[0], sha256=_sha256(arcface[0]))

    assert load_detector(_config(detector_spec)).name.startswith("scrfd:")
    assert load_embedder(_config(embedder=embedder_spec)).model.startswith("arcface:")


@pytest.mark.parametrize("which", ["detector", "embedder"])
def test_wrong_sha256_is_refused_naming_the_file(
    scrfd_path: Path, arcface: tuple[Path, np.ndarray], which: str
) -> None:
    wrong = "0" * 64
    if which == "detector":
        config = _config(ModelConfig(kind="scrfd", path=scrfd_path, sha256=wrong))
        path, load = scrfd_path, load_detector
    else:
        config = _config(embedder=ModelConfig(kind="arcface", path=arcface[0], sha256=wrong))
        path, load = arcface[0], load_embedder

    with pytest.raises(ModelError, match="SHA-256") as caught:
        load(config)  # type: ignore[operator]
    assert str(path) in str(caught.value)


def test_recogniser_given_as_detector_is_refused(arcface: tuple[Path, np.ndarray]) -> None:
    config = _config(ModelConfig(kind="scrfd", path=arcface[0]))

    with pytest.raises(ModelError, match="does not look like a face detector") as caught:
        load_detector(config)
    assert str(arcface[0]) in str(caught.value)


def test_detector_given_as_recogniser_is_refused(scrfd_path: Path) -> None:
    config = _config(embedder=ModelConfig(kind="arcface", path=scrfd_path))

    with pytest.raises(ModelError, match="does not look like a face recogniser") as caught:
        load_embedder(config)
    assert str(scrfd_path) in str(caught.value)


def test_detector_with_wrong_number_of_outputs_is_refused_as_scrfd(model_dir: Path) -> None:
    full = onnx.load(str(build_scrfd(model_dir / "scrfd_full.onnx")))
    del full.graph.output[6:]  # the '_kps' heads
    path = _save(full, model_dir / "scrfd_no_kps.onnx")

    with pytest.raises(ModelError, match="has 6 outputs"):
        load_detector(_config(ModelConfig(kind="scrfd", path=path)))


def test_file_that_is_not_onnx_is_refused(model_dir: Path) -> None:
    path = model_dir / "notes.onnx"
    path.write_text("this is not a model\n", encoding="utf-8")

    with pytest.raises(ModelError, match="not a readable ONNX model") as caught:
        load_detector(_config(ModelConfig(kind="scrfd", path=path)))
    assert str(path) in str(caught.value)


def test_missing_file_is_refused_naming_it(model_dir: Path) -> None:
    path = model_dir / "absent.onnx"

    with pytest.raises(ModelError, match="does not exist") as caught:
        load_embedder(_config(embedder=ModelConfig(kind="arcface", path=path)))
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("which", "known"), [("detector", "scrfd, yunet"), ("embedder", "arcface, sface")]
)
def test_unknown_kind_lists_the_known_kinds(which: str, known: str) -> None:
    spec = ModelConfig(kind="retinaface")
    config = _config(spec) if which == "detector" else _config(embedder=spec)
    load = load_detector if which == "detector" else load_embedder

    with pytest.raises(ModelError, match=f"unknown model kind 'retinaface'; known kinds: {known}"):
        load(config)  # type: ignore[operator]


def test_kind_without_a_bundled_model_asks_for_a_path() -> None:
    with pytest.raises(ModelError, match=r"vision\.detector\.path"):
        load_detector(_config(ModelConfig(kind="scrfd")))
