"""Global options are accepted after the verb as well as before it."""

from __future__ import annotations

from watchkeeper.cli import hoist_global_options


def test_options_after_the_verb_move_in_front_of_it() -> None:
    args = ["run", "clip.mp4", "--data-dir", "D", "--json", "-v"]
    assert hoist_global_options(args) == ["--data-dir", "D", "-v", "run", "clip.mp4", "--json"]


def test_the_equals_form_and_options_already_in_front_are_kept() -> None:
    args = ["--config", "c.yaml", "person", "list", "--data-dir=D"]
    assert hoist_global_options(args) == ["--config", "c.yaml", "--data-dir=D", "person", "list"]


def test_nothing_after_a_double_dash_is_moved() -> None:
    args = ["run", "--", "--data-dir", "D"]
    assert hoist_global_options(args) == ["run", "--", "--data-dir", "D"]
