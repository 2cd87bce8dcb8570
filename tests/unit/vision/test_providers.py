"""Choice of ONNX Runtime execution providers from the configured preference."""

from __future__ import annotations

import onnxruntime as ort
import pytest

from watchkeeper.config import VisionConfig
from watchkeeper.vision.runtime_onnx import PROVIDER_NAMES, available_providers, with_settings


def test_only_listed_providers_are_chosen_in_preference_order() -> None:
    preference = [PROVIDER_NAMES[p] for p in ("tensorrt", "cuda", "cpu")]

    chosen = available_providers(["tensorrt", "cuda", "cpu"])

    # a listed GPU provider may still be dropped: tests/integration/vision/test_gpu_build.py
    assert set(chosen) <= set(ort.get_available_providers())
    assert chosen == sorted(chosen, key=preference.index)
    assert chosen[-1] == "CPUExecutionProvider"


def test_without_cuda_only_the_cpu_provider_is_chosen() -> None:
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this ONNX Runtime build has CUDA")

    assert available_providers(["tensorrt", "cuda", "cpu"]) == ["CPUExecutionProvider"]


def test_with_cuda_the_cuda_provider_comes_before_the_cpu() -> None:
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip("this ONNX Runtime build has no CUDA")

    chosen = available_providers(["cuda", "cpu"])

    assert chosen == ["CUDAExecutionProvider", "CPUExecutionProvider"]


def test_the_cpu_provider_is_always_the_last_resort() -> None:
    assert available_providers(["tensorrt"])[-1] == "CPUExecutionProvider"
    assert available_providers([]) == ["CPUExecutionProvider"]


def test_the_cpu_provider_is_listed_once() -> None:
    assert available_providers(["cpu", "cpu"]).count("CPUExecutionProvider") == 1


def test_the_cuda_provider_searches_convolution_algorithms_as_configured() -> None:
    chosen = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]

    default = with_settings(chosen, VisionConfig().cudnn_algorithm_search)
    exhaustive = with_settings(chosen, "exhaustive")

    assert default == [
        "TensorrtExecutionProvider",
        ("CUDAExecutionProvider", {"cudnn_conv_algo_search": "HEURISTIC"}),
        "CPUExecutionProvider",
    ]
    assert exhaustive[1] == ("CUDAExecutionProvider", {"cudnn_conv_algo_search": "EXHAUSTIVE"})
