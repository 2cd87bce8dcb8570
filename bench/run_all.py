"""Run every benchmark and keep the numbers: bench/results/<date>.json and a markdown table.

Each benchmark runs as its own process (so one's memory does not colour another's), with the
arguments below; ``--quick`` trims the slowest ones (the million-template gallery, the
minute-long latency run, the two-minute recordings). The machine is recorded with the results.

    .venv/bin/python bench/run_all.py            # everything (about 30 minutes on 2 cores)
    .venv/bin/python bench/run_all.py --quick    # a few minutes
    .venv/bin/python bench/run_all.py --only pipeline,gallery
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"

# name -> (arguments, arguments with --quick, how the script hands over its JSON)
BENCHMARKS: dict[str, tuple[list[str], list[str], str]] = {
    "pipeline": (["--json"], ["--json", "--only", "end-to-end"], "stdout"),
    "enrolment": (["--json"], ["--json"], "stdout"),
    "gallery": ([], ["--sizes", "1000,10000,100000", "--search", "32,64"], "file"),
    "gallery_refresh": ([], ["--templates", "200000"], "file"),
    "latency": (["--json", "--seconds", "60"], ["--json", "--seconds", "20"], "stdout"),
    "streams": (["--json"], ["--json", "--counts", "1,2,4", "--seconds", "15"], "stdout"),
    "api": (["--json"], ["--json", "--requests", "300"], "stdout"),
    "investigation": (["--json", "--copies", "4", "--loops", "30"], ["--json"], "stdout"),
    "cluster": ([], [], "file"),
}


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    import os

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def run(name: str, quick: bool) -> dict[str, Any]:
    full, short, handover = BENCHMARKS[name]
    args = list(short if quick else full)
    out = Path(tempfile.mkstemp(suffix=".json")[1])
    if handover == "file":
        args += ["--json", str(out)]
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(BENCH / f"{name}.py"), *args], capture_output=True, text=True
    )
    seconds = round(time.perf_counter() - started, 1)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:] or ["failed"], "seconds": seconds}
    text = out.read_text() if handover == "file" else done.stdout
    out.unlink(missing_ok=True)
    try:
        return {"result": json.loads(text), "seconds": seconds}
    except json.JSONDecodeError:
        return {"error": ["no JSON in the output"], "seconds": seconds, "output": text[-2000:]}


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# Benchmarks {report['date']}", "", "| machine | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in report["machine"].items()]
    lines += ["", "| benchmark | seconds | outcome |", "|---|---|---|"]
    for name, entry in report["benchmarks"].items():
        outcome = "ok" if "result" in entry else f"error: {entry['error'][0]}"
        lines.append(f"| {name} | {entry['seconds']} | {outcome} |")
    lines += ["", "Full numbers: the JSON file beside this one; read in docs/performance.md."]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, shorter runs")
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; known: {', '.join(BENCHMARKS)}")
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M")
    report: dict[str, Any] = {"date": stamp, "machine": machine(), "benchmarks": {}}
    for name in names:
        print(f"running {name} …", flush=True)
        report["benchmarks"][name] = entry = run(name, args.quick)
        print(f"  {name}: {'ok' if 'result' in entry else entry['error']} ({entry['seconds']} s)")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stamp}.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / f"{stamp}.md").write_text(markdown(report))
    print(f"written {RESULTS / stamp}.json and .md")
    return 0 if all("result" in e for e in report["benchmarks"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
