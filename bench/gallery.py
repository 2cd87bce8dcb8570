"""How fast the gallery answers, and how much it holds, from a thousand to a million templates.

Two kinds of data (``--data``), 128-d unit vectors, identities each enrolled with several
noisy templates (genuine cosine ≈ 0.75), queries half fresh views of enrolled identities
(mated) and half identities never enrolled (non-mated), one query at a time, as a camera
worker searches. Exact search (IndexFlatIP) is the reference for the recall of the
approximate index (``--ann``: IVF, the default, or HNSW).

- ``realistic`` (default): the real SFace templates of the example faces, plus synthetic
  identities drawn with their mean, covariance and genuine/impostor cosines
  (bench/face_templates.py; the fit is printed);
- ``isotropic``: identity centres filling all 128 dimensions around one common direction — a
  harder case for any index than real faces, kept for comparison with earlier runs.

    .venv/bin/python bench/gallery.py                                 # 1k … 1M, a table
    .venv/bin/python bench/gallery.py --sizes 1000,100000 --json out.json
    .venv/bin/python bench/gallery.py --sizes 1000000 --ann ivf --search 16,32,64,128
    .venv/bin/python bench/gallery.py --sizes 1000000 --ann hnsw --hnsw-m 32 --ef-construction 40

Record results in docs/performance.md together with the machine block this prints.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from face_templates import FaceSpread, real_templates  # bench/face_templates.py
from watchkeeper.matching import Gallery, decide
from watchkeeper.matching.gallery import HNSW_EF_CONSTRUCTION, HNSW_M

MODEL = "bench@1"
DIMENSION = 128
COMMON = 0.4  # weight of the shared direction: impostor cosine ≈ COMMON² / (1 + COMMON²)
SPREAD = 0.048  # per-dimension noise of a template: genuine cosine ≈ 1 / (1 + 128·SPREAD²)
TARGET_MS = 1.0  # issue 13: p50 at a million templates
TARGET_RECALL = 0.99
SEARCH_PARAMETER = {"ivf": "nprobe", "hnsw": "efSearch"}


def unit(x: np.ndarray) -> np.ndarray:
    return np.asarray(x / np.linalg.norm(x, axis=1, keepdims=True), np.float32)


class FaceLikeData:
    """Enrolled templates and mixed mated / non-mated queries, reproducible from a seed.

    ``spread`` draws realistic identities (the real templates' spread); without it, the
    isotropic centres of earlier runs are used.
    """

    def __init__(
        self, size: int, per_identity: int, queries: int, seed: int, spread: FaceSpread | None
    ) -> None:
        rng = np.random.default_rng(seed)
        common = unit(rng.standard_normal((1, DIMENSION), np.float32))

        def centres(count: int) -> np.ndarray:
            if spread is not None:
                return spread.centres(count)
            noise = rng.standard_normal((count, DIMENSION), np.float32) / np.sqrt(DIMENSION)
            return unit(COMMON * common + noise)

        def views(of: np.ndarray) -> np.ndarray:
            if spread is not None:
                return spread.views(of)
            return unit(of + SPREAD * rng.standard_normal(of.shape, np.float32))

        identities = -(-size // per_identity)
        enrolled = centres(identities)
        self.persons = np.repeat(np.arange(identities), per_identity)[:size]
        self.vectors = np.empty((size, DIMENSION), np.float32)
        for start in range(0, size, 100_000):  # bounded temporaries at a million
            self.vectors[start : start + 100_000] = views(
                enrolled[self.persons[start : start + 100_000]]
            )
        mated = rng.choice(identities, queries - queries // 2, replace=identities < queries)
        self.queries = np.vstack([views(enrolled[mated]), views(centres(queries // 2))])
        self.mated = len(mated)


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def build(
    data: FaceLikeData, exact_limit: int, args: argparse.Namespace
) -> tuple[Gallery, dict[str, Any]]:
    gc.collect()
    before = rss_bytes()
    gallery = Gallery(
        MODEL,
        DIMENSION,
        exact_limit,
        ann=args.ann,
        hnsw_m=args.hnsw_m,
        ef_construction=args.ef_construction,
    )
    started = time.perf_counter()
    ids = np.arange(len(data.vectors))
    gallery.rebuild(ids, data.persons, np.zeros_like(ids), data.vectors, model=MODEL, version=1)
    seconds = time.perf_counter() - started
    return gallery, {
        "kind": gallery.kind,
        "build_s": round(seconds, 2),
        "index_mib": round(gallery.memory_bytes / 2**20, 1),
        "rss_delta_mib": round((rss_bytes() - before) / 2**20, 1),
    }


def single_queries(
    gallery: Gallery, queries: np.ndarray
) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Top-1 template and score of each query, asked one at a time, and latency percentiles."""
    gallery.search(queries[:1], k=1, model=MODEL)  # warm-up
    found = np.empty(len(queries), np.int64)
    scores = np.empty(len(queries), np.float32)
    took = np.empty(len(queries))
    cpu = np.empty(len(queries))
    for i, query in enumerate(queries):
        started, started_cpu = time.perf_counter(), time.thread_time()
        result = gallery.search(query[None], k=1, model=MODEL)
        took[i] = time.perf_counter() - started
        cpu[i] = time.thread_time() - started_cpu
        found[i], scores[i] = result.template_ids[0, 0], result.scores[0, 0]
    p50, p95 = np.percentile(took * 1e3, [50, 95])
    # CPU time of the searching thread: what the search costs, whatever else the cores run
    cpu_p50 = float(np.percentile(cpu * 1e3, 50))
    return (
        found,
        scores,
        {
            "p50_ms": round(float(p50), 3),
            "p95_ms": round(float(p95), 3),
            "cpu_p50_ms": round(cpu_p50, 3),
        },
    )


def decisions(gallery: Gallery, data: FaceLikeData) -> tuple[np.ndarray, float]:
    """The top candidate of the full open-set decision for each mated query, and its p50 ms.

    ``decide`` shortlists at least 32 templates per probe and rescores the shortlist exactly,
    so its person recall is what matters for alerts, not the search's top-1.
    """
    people = np.empty(data.mated, np.int64)
    took = np.empty(data.mated)
    for i, query in enumerate(data.queries[: data.mated]):
        started = time.perf_counter()
        decision = decide(query, gallery, {}, 0.363, model=MODEL)
        took[i] = time.perf_counter() - started
        people[i] = decision.ranked[0].candidate.person_id
    return people, round(float(np.median(took)) * 1e3, 3)


def bench_size(size: int, args: argparse.Namespace) -> dict[str, Any]:
    data = FaceLikeData(size, args.per_identity, args.queries, args.seed, args.spread)
    exact, exact_build = build(data, size, args)
    truth, truth_scores, exact_latency = single_queries(exact, data.queries)
    _, exact_decide_ms = decisions(exact, data)
    row: dict[str, Any] = {
        "size": size,
        "exact": exact_build | exact_latency | {"decide_p50_ms": exact_decide_ms},
    }
    del exact
    ann, ann_build = build(data, 1, args)  # the approximate index whatever the size
    row["ann"] = ann_build | (
        {"M": ann.hnsw_m, "ef_construction": ann.ef_construction} if args.ann == "hnsw" else {}
    )
    row["ann_search"] = []
    true_people = data.persons[truth[: data.mated]]
    for value in args.search:
        if args.ann == "ivf":
            ann.ivf_nprobe = value
        else:
            ann.ef_search = value
        found, scores, latency = single_queries(ann, data.queries)
        decided, decide_ms = decisions(ann, data)
        mated, non_mated = slice(0, data.mated), slice(data.mated, None)
        row["ann_search"].append(
            {"search": value}
            | latency
            | {
                "recall_at_1": round(float(np.mean(found == truth)), 4),
                "mated_recall_at_1": round(float(np.mean(found[mated] == truth[mated])), 4),
                "mated_person_recall_at_1": round(
                    float(np.mean(data.persons[found[mated]] == true_people)), 4
                ),
                "decide_p50_ms": decide_ms,
                "decide_person_recall_at_1": round(float(np.mean(decided == true_people)), 4),
                # A non-mated query's exact top-1 is one of many near-tied impostors: what
                # matters is how much of the best impostor score the index misses, not which.
                "non_mated_max_score_shortfall": round(
                    float(np.max(truth_scores[non_mated] - scores[non_mated])), 4
                ),
            }
        )
    return row


def machine() -> dict[str, Any]:
    return {
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "faiss": faiss.__version__,
        "faiss_threads": faiss.omp_get_max_threads(),
        "load_average": os.getloadavg(),
    }


def verdict(rows: list[dict[str, Any]]) -> str:
    """Whether the largest gallery meets the target, for the search and for the decision."""
    largest = rows[-1]
    parameter = SEARCH_PARAMETER[largest["ann"]["kind"]]
    lines = []
    for what, recall, ms in (
        ("search() top-1 template, mated", "mated_recall_at_1", "p50_ms"),
        ("decide() top-1 person, mated", "decide_person_recall_at_1", "decide_p50_ms"),
    ):
        meeting = [
            s for s in largest["ann_search"] if s[ms] <= TARGET_MS and s[recall] >= TARGET_RECALL
        ]
        if meeting:
            best = min(meeting, key=lambda s: s[ms])
            lines.append(
                f"{what}: target met at {largest['size']:,}: {parameter}={best['search']}, "
                f"{best[ms]} ms ({ms}), recall@1 {best[recall]}"
            )
        else:
            best = max(largest["ann_search"], key=lambda s: (s[recall], -s[ms]))
            lines.append(
                f"{what}: target (≤ {TARGET_MS} ms, recall@1 ≥ {TARGET_RECALL}) NOT met at "
                f"{largest['size']:,}; best: recall@1 {best[recall]} in {best[ms]} ms ({ms}) "
                f"at {parameter}={best['search']}"
            )
    return "\n".join(lines)


LEGEND = """p50/p95: search() of one query, k=1, wall clock; CPU p50: its CPU time on the
searching thread (steady when other work shares the cores). recall@1: ANN top-1 template = exact
top-1, all queries; mated: the same on queries of enrolled people; person: ANN top-1 template
belongs to the exact top-1's person (mated). decide: the full decision for one mated probe
(top_k=5, at least 32 templates shortlisted, rescored exactly) - its p50 ms and how often its
top candidate is the exact top-1's person. shortfall: the most the ANN index under-reports the
best impostor score of a non-mated query (it never over-reports, so it cannot cause a false
match). param: the search parameter, IVF nprobe or HNSW efSearch."""


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"{'size':>9} {'index':>5} {'build s':>8} {'MiB':>7} {'RSS Δ MiB':>9} {'param':>5} "
        f"{'p50 ms':>7} {'p95 ms':>7} {'CPU p50':>7} {'recall@1':>8} {'mated':>6} {'person':>6} "
        f"{'decide ms':>9} {'decide person':>13} {'shortfall':>9}"
    ]
    for row in rows:
        e = row["exact"]
        lines.append(
            f"{row['size']:>9,} {'flat':>5} {e['build_s']:>8} {e['index_mib']:>7} "
            f"{e['rss_delta_mib']:>9} {'-':>5} {e['p50_ms']:>7} {e['p95_ms']:>7} "
            f"{e['cpu_p50_ms']:>7} {1.0:>8} {1.0:>6} {1.0:>6} {e['decide_p50_ms']:>9} "
            f"{1.0:>13} {0.0:>9}"
        )
        h = row["ann"]
        for i, s in enumerate(row["ann_search"]):
            built = (
                f"{h['build_s']:>8} {h['index_mib']:>7} {h['rss_delta_mib']:>9}"
                if i == 0
                else f"{'':>8} {'':>7} {'':>9}"
            )
            lines.append(
                f"{'':>9} {h['kind']:>5} {built} {s['search']:>5} {s['p50_ms']:>7} "
                f"{s['p95_ms']:>7} {s['cpu_p50_ms']:>7} {s['recall_at_1']:>8} "
                f"{s['mated_recall_at_1']:>6} "
                f"{s['mated_person_recall_at_1']:>6} {s['decide_p50_ms']:>9} "
                f"{s['decide_person_recall_at_1']:>13} {s['non_mated_max_score_shortfall']:>9}"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000", help="gallery sizes")
    parser.add_argument(
        "--queries",
        type=int,
        default=2000,
        help="queries per size, half of them mated (1,000 tell a recall@1 of 0.99 from 1.00; "
        "the 100 of the old default could not)",
    )
    parser.add_argument("--per-identity", type=int, default=5, help="templates per identity")
    parser.add_argument("--ann", choices=["ivf", "hnsw"], default="ivf", help="approximate index")
    parser.add_argument(
        "--search",
        default="16,32,64,128",
        help="values to try of the search parameter: IVF nprobe or HNSW efSearch",
    )
    parser.add_argument("--threads", type=int, default=2, help="FAISS (OpenMP) threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", choices=["realistic", "isotropic"], default="realistic")
    parser.add_argument("--hnsw-m", type=int, default=HNSW_M, help="HNSW links per node")
    parser.add_argument(
        "--ef-construction", type=int, default=HNSW_EF_CONSTRUCTION, help="HNSW build depth"
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    args.search = [int(value) for value in args.search.split(",")]
    faiss.omp_set_num_threads(args.threads)

    results: dict[str, Any] = {"machine": machine(), "data": args.data, "sizes": []}
    args.spread = FaceSpread(real_templates(), args.seed) if args.data == "realistic" else None
    if args.spread is not None:
        probe = FaceLikeData(20_000, args.per_identity, 2, args.seed, args.spread)
        results["spread"] = args.spread.report(probe.vectors, probe.persons)
    print("\n".join(f"{key}: {value}" for key, value in results["machine"].items()))
    print("spread:", json.dumps(results.get("spread", "isotropic")))
    for size in (int(value) for value in args.sizes.split(",")):
        started = time.perf_counter()
        results["sizes"].append(bench_size(size, args))
        print(
            f"… {size:,} templates done in {time.perf_counter() - started:.0f} s", file=sys.stderr
        )
    results["verdict"] = verdict(results["sizes"])
    print()
    print(table(results["sizes"]))
    print(LEGEND)
    print()
    print(results["verdict"])
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
