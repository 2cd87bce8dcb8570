"""``watchkeeper eval``: measure accuracy on labelled data and write the report.

Examples::

    watchkeeper eval verify examples/data/deepface-pairs/master.csv --out report/
    watchkeeper eval identify examples/data/deepface-pairs/master.csv \\
        --nonmated examples/data/video/facenet-pytorch-video.mp4 --distractors 10000
    watchkeeper eval verify lfw --pairs pairs.txt --model default \\
        --model scrfd:/models/det.onnx,arcface:/models/rec.onnx
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from watchkeeper.config import ConfigError, ModelConfig, VisionConfig, load_settings
from watchkeeper.evaluation.datasets import (
    DatasetError,
    PairSet,
    identities_from_pairs,
    image_files,
    load_attributes,
    load_identity_folders,
    load_pairs,
    pairs_from_identities,
)
from watchkeeper.evaluation.runner import (
    FAR_TARGETS,
    FPIR_TARGETS,
    identify,
    verify,
)
from watchkeeper.evaluation.templates import (
    Probes,
    TemplateStore,
    is_video,
    video_frame_count,
)
from watchkeeper.vision import FaceAnalyzer, ModelError
from watchkeeper.vision.factory import DETECTORS, EMBEDDERS

if TYPE_CHECKING:
    from watchkeeper.evaluation.report import Result

app = typer.Typer(
    help="Measure accuracy on labelled data: 1:1 verification and open-set 1:N identification, "
    "with an HTML report and a JSON summary.",
    no_args_is_help=True,
)
err = Console(stderr=True)

ModelOption = Annotated[
    list[str] | None,
    typer.Option(
        "--model",
        help="Models to test, repeatable for a side-by-side comparison: 'default' (the "
        "configured models) or 'KIND[:PATH],KIND[:PATH]', e.g. "
        "'scrfd:/m/det.onnx,arcface:/m/rec.onnx'.",
    ),
]
PairsOption = Annotated[
    Path | None,
    typer.Option(help="Pair list (LFW pairs.txt, or CSV file_x,file_y,Decision) under DATASET."),
]
ThresholdOption = Annotated[
    float | None,
    typer.Option(help="Decision threshold (cosine). Default: matching.default_threshold."),
]
OutOption = Annotated[
    Path | None, typer.Option("--out", help="Folder for report.html and summary.json.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the JSON summary.")]
AttributesOption = Annotated[
    Path | None,
    typer.Option(help="CSV file,<attribute>,... for error rates per group (e.g. demographics)."),
]
GroupOption = Annotated[
    str | None, typer.Option(help="Attribute column to group by (default: 'group').")
]
MinQualityOption = Annotated[
    float,
    typer.Option(min=0, max=1, help="Photos whose face scores below this fail to enrol."),
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    """Print a one-line error (unwrapped, so it greps) and the exit to raise: 2 usage, 1 data."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def parse_model(spec: str, base: VisionConfig) -> VisionConfig:
    """A vision config from 'default' or 'KIND[:PATH],KIND[:PATH]' (detector and/or embedder)."""
    if spec.strip() == "default":
        return base
    changes: dict[str, ModelConfig] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        kind, _, path = part.partition(":")
        model = ModelConfig(kind=kind, path=Path(path) if path else None)
        if kind in DETECTORS:
            changes["detector"] = model
        elif kind in EMBEDDERS:
            changes["embedder"] = model
        else:
            known = ", ".join(sorted([*DETECTORS, *EMBEDDERS]))
            raise ValueError(f"unknown model kind '{kind}' in --model {spec}; known: {known}")
    return base.model_copy(update=changes)


@contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    """A rich progress display; yields a factory of per-task advance callbacks."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=quiet,
    ) as progress:

        def task(description: str, total: int) -> Callable[[int], None]:
            task_id = progress.add_task(description, total=total or None)
            return lambda n: progress.advance(task_id, n)

        yield task


def _stores(models: list[str] | None, min_quality: float) -> list[TemplateStore]:
    try:
        base = load_settings().vision
        configs = [parse_model(m, base) for m in models or ["default"]]
        return [TemplateStore(FaceAnalyzer.from_config(c), min_quality) for c in configs]
    except (ValueError, ConfigError, ModelError) as exc:
        raise _fail(str(exc)) from exc


def _threshold(value: float | None) -> float:
    return value if value is not None else load_settings().matching.default_threshold


def _pair_set(dataset: Path, pairs: Path | None) -> PairSet:
    if pairs is not None:
        return load_pairs(pairs, dataset if dataset.is_dir() else dataset.parent)
    if dataset.is_file():
        return load_pairs(dataset)
    return pairs_from_identities(load_identity_folders(dataset))


def _attributes(path: Path | None, column: str | None) -> dict[str, str] | None:
    return None if path is None else load_attributes(path, column)


def _finish(results: list[Result], out: Path | None, as_json: bool, title: str) -> None:
    # matplotlib is imported only when a report is written, so the CLI starts fast
    from watchkeeper.evaluation.report import summary_document, write_report

    if out is not None:
        page, summary = write_report(results, out, title)
        err.print(f"report: {page}\nsummary: {summary}", highlight=False)
    if as_json:
        sys.stdout.write(json.dumps(summary_document(results), indent=2) + "\n")
    else:
        _print_table([r.summary() for r in results])


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _print_table(summaries: list[dict[str, Any]]) -> None:
    table = Table(title=f"{summaries[0]['kind']}: {summaries[0]['dataset']}")
    table.add_column("")
    for s in summaries:
        table.add_column(s["model"], justify="right")
    if summaries[0]["kind"] == "verify":
        keys = ["genuine_pairs", "impostor_pairs", "failure_to_enrol", "threshold", "accuracy"]
        keys += ["fnmr", "fmr", "eer", "eer_threshold"]
        nested = [(f"TAR @ FMR={t:g}", "tar_at_far", f"{t:g}", "tar") for t in FAR_TARGETS]
    else:
        keys = ["gallery_identities", "mated_probes", "nonmated_probes", "failure_to_enrol"]
        keys += ["nonmated_unusable", "rank1_rate", "threshold", "fnir", "fpir"]
        keys += ["threshold_for_target_fpir"]
        nested = [(f"FNIR @ FPIR={t:g}", "fnir_at_fpir", f"{t:g}", "fnir") for t in FPIR_TARGETS]
    for key in keys:
        table.add_row(key.replace("_", " "), *(_fmt(s[key]) for s in summaries))
    for label, key, target, rate in nested:
        table.add_row(label, *(_fmt((s[key][target] or {}).get(rate)) for s in summaries))
    Console().print(table)


@app.command("verify")
def verify_command(
    dataset: Annotated[
        Path, typer.Argument(help="Folder per identity (name/*.jpg), image root, or a pair list.")
    ],
    pairs: PairsOption = None,
    threshold: ThresholdOption = None,
    out: OutOption = None,
    as_json: JsonOption = False,
    model: ModelOption = None,
    attributes: AttributesOption = None,
    group_column: GroupOption = None,
    min_quality: MinQualityOption = 0.0,
) -> None:
    """1:1 verification: ROC, DET, TAR at FMR, EER, score histograms, failure to enrol."""
    try:
        pair_set = _pair_set(dataset, pairs)
        groups = _attributes(attributes, group_column)
    except DatasetError as exc:
        raise _fail(str(exc)) from exc
    cut = _threshold(threshold)
    results: list[Result] = []
    with _progress(as_json) as task:
        for store in _stores(model, min_quality):
            advance = task(f"templates {store.model}", len(pair_set.images))
            try:
                results.append(
                    verify(
                        pair_set,
                        store,
                        cut,
                        dataset=str(dataset),
                        attributes=groups,
                        on_progress=advance,
                    )
                )
            except DatasetError as exc:
                raise _fail(str(exc), code=1) from exc
    _finish(results, out, as_json, f"Verification on {dataset}")


@app.command("identify")
def identify_command(
    dataset: Annotated[
        Path,
        typer.Argument(
            help="Folder per identity (name/*.jpg), or a pair list whose genuine "
            "pairs define the identities."
        ),
    ],
    pairs: PairsOption = None,
    nonmated: Annotated[
        list[Path] | None,
        typer.Option(
            help="Non-mated probes (people not enrolled): an image, a folder of "
            "images or a video; repeatable."
        ),
    ] = None,
    distractors: Annotated[
        int, typer.Option(min=0, help="Grow the gallery with this many synthetic identities.")
    ] = 0,
    target_fpir: Annotated[
        float, typer.Option(min=0, max=1, help="FPIR to suggest a threshold for.")
    ] = 0.01,
    enrol: Annotated[
        int, typer.Option(min=1, help="Photos enrolled per identity; the rest are mated probes.")
    ] = 1,
    video_every: Annotated[int, typer.Option(min=1, help="Search every N-th video frame.")] = 1,
    video_min_quality: Annotated[
        float, typer.Option(min=0, max=1, help="Video faces below this quality are skipped.")
    ] = 0.3,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic distractors.")] = 0,
    threshold: ThresholdOption = None,
    out: OutOption = None,
    as_json: JsonOption = False,
    model: ModelOption = None,
    attributes: AttributesOption = None,
    group_column: GroupOption = None,
    min_quality: MinQualityOption = 0.0,
) -> None:
    """Open-set 1:N identification: FNIR at FPIR, rank-1 rate, threshold for a target FPIR."""
    if target_fpir == 0:
        raise _fail("--target-fpir must be above 0: no finite number of probes measures 0")
    try:
        identities = (
            identities_from_pairs(_pair_set(dataset, pairs))
            if pairs is not None or dataset.is_file()
            else load_identity_folders(dataset)
        )
        groups = _attributes(attributes, group_column)
        sources = list(nonmated or [])
        for source in sources:
            if not source.exists():
                raise DatasetError(f"non-mated probe source {source} does not exist")
    except DatasetError as exc:
        raise _fail(str(exc)) from exc
    cut = _threshold(threshold)
    results: list[Result] = []
    with _progress(as_json) as task:
        for store in _stores(model, min_quality):
            try:
                probes = Probes.empty()
                for source in sources:
                    if is_video(source):
                        advance = task(f"video {source.name}", video_frame_count(source))
                        probes += store.video_probes(
                            source, video_every, video_min_quality, advance
                        )
                    else:
                        files = image_files(source)
                        advance = task(f"non-mated {source.name}", len(files))
                        probes += store.probes(files, advance)
                photos = sum(len(f) for f in identities.values())
                advance = task(f"gallery {store.model}", photos)
                results.append(
                    identify(
                        identities,
                        store,
                        probes,
                        cut,
                        enrol_per_identity=enrol,
                        distractors=distractors,
                        seed=seed,
                        target_fpir=target_fpir,
                        dataset=str(dataset),
                        attributes=groups,
                        on_progress=advance,
                    )
                )
            except DatasetError as exc:
                raise _fail(str(exc), code=1) from exc
    _finish(results, out, as_json, f"Open-set identification on {dataset}")


@app.command("degrade")
def degrade_command(
    dataset: Annotated[
        Path,
        typer.Argument(
            help="A pair list whose genuine pairs define the identities, or a folder "
            "per identity (name/*.jpg)."
        ),
    ],
    pairs: PairsOption = None,
    heights: Annotated[
        list[int] | None, typer.Option("--height", min=8, help="Face heights in pixels.")
    ] = None,
    crfs: Annotated[
        list[int] | None, typer.Option("--crf", min=0, max=51, help="H.264 CRF values.")
    ] = None,
    min_face_size: Annotated[
        int, typer.Option(min=8, help="Detector's minimum face size during the ladder.")
    ] = 8,
    threshold: ThresholdOption = None,
    out: OutOption = None,
    as_json: JsonOption = False,
) -> None:
    """Recall by face size: probes re-rendered small, H.264-compressed, blurred and dark."""
    from watchkeeper.evaluation import degrade  # matplotlib and the encoder only when asked

    try:
        identities = (
            identities_from_pairs(_pair_set(dataset, pairs))
            if pairs is not None or dataset.is_file()
            else load_identity_folders(dataset)
        )
        vision = load_settings().vision.model_copy(update={"min_face_size": min_face_size})
        analyzer = FaceAnalyzer.from_config(vision)
    except (DatasetError, ConfigError, ModelError) as exc:
        raise _fail(str(exc)) from exc
    cut = _threshold(threshold)
    sizes, rates = tuple(heights or degrade.HEIGHTS), tuple(crfs or degrade.CRFS)
    with _progress(as_json) as task:
        advance = task("ladder rungs", len(sizes) * len(rates) * len(degrade.VARIANTS))
        try:
            results = degrade.run_ladder(
                analyzer, identities, cut, sizes, rates, on_rung=lambda: advance(1)
            )
        except DatasetError as exc:
            raise _fail(str(exc), code=1) from exc
    smallest = degrade.smallest_within(results)
    document = {"threshold": cut, "smallest_height_within_10_points": smallest,
                "rungs": degrade.as_json(results)}  # fmt: skip
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "degrade.json").write_text(json.dumps(document, indent=2), encoding="utf-8")
        (out / "degrade.md").write_text(degrade.markdown_table(results) + "\n", encoding="utf-8")
        degrade.plot(results, out / "degrade.png", cut)
    if as_json:
        json.dump(document, sys.stdout, indent=2)
        print()
        return
    Console().print(degrade.markdown_table(results))
    Console().print(
        f"smallest face height with recall within 10 points of clean photos: {smallest} px"
    )
