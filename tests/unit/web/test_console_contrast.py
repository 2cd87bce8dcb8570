"""The console's colours meet WCAG 2.1 AA: read from the stylesheet itself, so a change of
palette that breaks contrast fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = Path(__file__).parents[3] / "src" / "watchkeeper" / "web" / "static" / "console.css"
BACKGROUNDS = ("bg", "surface", "surface-2")
TEXT = ("fg", "muted", "accent", "ok", "danger", "warn")
BUTTONS = ("primary-bg", "confirm-bg", "reject-bg", "escalate-bg")


def palette() -> dict[str, str]:
    root = re.search(r":root\s*\{(.*?)\}", CSS.read_text(), re.S)
    assert root is not None
    return dict(re.findall(r"--([a-z0-9-]+):\s*(#[0-9a-fA-F]{6})\s*;", root.group(1)))


def luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_contrast_formula_matches_the_wcag_reference_values():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)


@pytest.mark.parametrize("background", BACKGROUNDS)
@pytest.mark.parametrize("text", TEXT)
def test_text_colours_reach_4_5_to_1_on_every_background(text, background):
    colours = palette()
    assert contrast(colours[text], colours[background]) >= 4.5


@pytest.mark.parametrize("button", BUTTONS)
def test_button_labels_reach_4_5_to_1_on_their_button(button):
    colours = palette()
    assert contrast(colours["on-strong"], colours[button]) >= 4.5


@pytest.mark.parametrize("background", BACKGROUNDS)
@pytest.mark.parametrize("edge", ["line", "focus"])
def test_control_borders_and_the_focus_ring_reach_3_to_1(edge, background):
    colours = palette()
    assert contrast(colours[edge], colours[background]) >= 3.0
