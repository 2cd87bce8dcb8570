"""The gallery: the enrolled templates of every active watchlist for one model, searchable.

One :class:`Gallery` holds the templates of one model, because templates of different models
are never compared (DESIGN.md, "Models"): every call that brings vectors names their model and
a mismatch is refused.

The index follows the size (docs/decisions/0003-gallery-index.md, 0041-ivf-gallery.md). Up to
``exact_limit`` templates it is an exact inner-product scan (``IndexFlatIP``): a few
milliseconds a probe, always the true nearest, and removals in place. Above it, an
approximate index (``ann``): an inverted file (the default: a million face templates in about
a millisecond at recall@1 0.99, built in seconds) or an HNSW graph (``IndexHNSWFlat``).
The inverted file scans one-byte-per-dimension codes of the templates and re-ranks what they
find against the uncompressed templates kept beside them (``IndexRefineFlat`` over
``IndexIVFScalarQuantizer``), so every score it returns is an exact cosine. Neither index
deletes cheaply: removing from them masks the rows at once (no search returns them again) and
overwrites their stored vectors and codes (a deleted person's face does not stay readable in
memory), and leaves the emptied rows in the index until :meth:`Gallery.compact` or
:meth:`Gallery.rebuild` builds a clean one.

FAISS labels are the gallery's own row numbers; each row's template, person and watchlist ids
sit in parallel arrays (no ``IndexIDMap``), so a template enrolled on two watchlists is simply
two rows, and removal by person or by watchlist is a mask over those arrays.

Searches share a readers–writer lock. An addition or a removal holds it alone for the
milliseconds of the change; a rebuild (or an addition that outgrows exact search) builds the
new index aside while searches go on against the old one, then swaps it in, so a search sees
the old gallery or the new one, never half of either.

A search runs FAISS on the calling thread alone (OpenMP off for that call). A sighting brings a
handful of probes, too few to split across cores, and camera workers already search from
parallel threads; waking an OpenMP team costs more than the search itself (on 2 busy cores a
3-probe decision took 10 ms with 2 threads, 1.4 ms with one). Building an index keeps the
process's FAISS thread count: that is where threads pay.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

import faiss
import numpy as np
import numpy.typing as npt

from watchkeeper.domain import FloatArray
from watchkeeper.matching.rwlock import ReadWriteLock

log = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
IndexKind = Literal["exact", "hnsw", "ivf"]
AnnKind = Literal["hnsw", "ivf"]
Eligible = Callable[[int, int], bool]

# Chosen by bench/gallery.py on 2 cores (docs/decisions/0003-gallery-index.md): at one million
# clustered 128-d templates, M=32 and efSearch=512 give the decision's top person recall 1.00
# (0.99 at 256) and search() top-1 recall 0.99 in 4–7 ms a probe; efSearch=64 only 0.90.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 40
HNSW_EF_SEARCH = 512
# Chosen by bench/gallery.py on realistic templates (docs/decisions/0041-ivf-gallery.md): at one
# million, 4,096 lists (about 4·√N) searched 96 at a time find the exact top-1 template of
# 0.991 of 1,000 mated probes (64: 0.977), and the right person for all of them.
IVF_NPROBE = 96
# The scan of one-byte codes hands this many times the asked-for candidates to the exact
# re-ranking: on the same million, the codes found the exact top-1 exactly as often as
# uncompressed vectors did, in 32–39 % less time.
IVF_REFINE_FACTOR = 4
IVF_TRAINING_PER_LIST = 30  # k-means sample: 30 templates per list (FAISS's lower bound is 39)
# A probe's search widens (×4 each time) until it holds top_k distinct eligible identities;
# this bounds that widening when most of the gallery is ineligible for the caller.
MAX_FETCH = 4096
SNAPSHOT_FORMAT = 2  # 2: the inverted file scans one-byte codes and re-ranks exactly


def ivf_list_count(templates: int) -> int:
    """Lists of an inverted file over ``templates`` rows: about 4·√N, a power of two, at most
    one per row (a million: 4,096). Capacity plans count them too."""
    lists = 1 << max(0, round(math.log2(max(1.0, 4 * math.sqrt(templates)))))
    return min(lists, templates)


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The k best templates of each query, best first.

    Places beyond the gallery's size are padded: ids ``-1``, score ``-inf``.
    """

    scores: FloatArray  # (Q, k) cosine similarity
    template_ids: IntArray  # (Q, k)
    person_ids: IntArray  # (Q, k)
    watchlist_ids: IntArray  # (Q, k)


@dataclass(frozen=True, slots=True)
class IdentityScores:
    """Each probe's best score against each shortlisted identity (a person on a watchlist).

    The scores are exact (recomputed from the stored vectors), whatever index found the
    shortlist, so fusing them across a track's probes is exact too.
    """

    person_ids: IntArray  # (P,)
    watchlist_ids: IntArray  # (P,)
    scores: FloatArray  # (Q, P) best cosine of probe q over the templates of identity p
    template_ids: IntArray  # (Q, P) the template that gave it

    def __len__(self) -> int:
        return int(self.person_ids.shape[0])


@dataclass(slots=True)
class _Contents:
    """One index and its row metadata: swapped whole by a rebuild, changed in place otherwise."""

    index: faiss.Index
    kind: IndexKind
    template_ids: IntArray
    person_ids: IntArray
    watchlist_ids: IntArray
    alive: BoolArray  # False: removed from an HNSW graph, masked out of every search
    removed: int = 0
    bitmap: npt.NDArray[np.uint8] | None = None  # packed ``alive``, only while rows are masked
    by_person: IntArray | None = None  # rows ordered by person id; rebuilt lazily after a change
    sorted_persons: IntArray | None = None  # person_ids[by_person], for binary search

    @property
    def live(self) -> int:
        return len(self.alive) - self.removed

    def changed(self) -> None:
        """Refresh what is derived from the rows; call inside the exclusive lock."""
        self.by_person = self.sorted_persons = None
        self.bitmap = np.packbits(self.alive, bitorder="little") if self.removed else None

    def rows_of_person(self) -> tuple[IntArray, IntArray]:
        """Rows ordered by person id, and those ids: kept, because gathering a million ids
        per decision cost more than the search itself (0.6 ms of 1.4 ms)."""
        # Built by whichever search needs it first; concurrent readers build the same arrays.
        by_person, sorted_persons = self.by_person, self.sorted_persons
        if by_person is None or sorted_persons is None:
            by_person = np.argsort(self.person_ids, kind="stable").astype(np.int64)
            sorted_persons = self.person_ids[by_person]
            self.by_person, self.sorted_persons = by_person, sorted_persons
        return by_person, sorted_persons


class Gallery:
    """The searchable templates of one model.

    >>> gallery = Gallery("sface-2021dec-int8bq@1", 128)
    >>> gallery.add([7], [42], [1], vectors, model="sface-2021dec-int8bq@1")  # doctest: +SKIP
    >>> gallery.search(probes, k=5, model="sface-2021dec-int8bq@1")  # doctest: +SKIP

    ``version`` is the store's gallery version this content reflects; the owner compares it
    with the store's and calls :meth:`rebuild` when they differ.
    """

    def __init__(
        self,
        model: str,
        dimension: int,
        exact_limit: int = 200_000,
        *,
        ann: AnnKind = "ivf",
        hnsw_m: int = HNSW_M,
        ef_construction: int = HNSW_EF_CONSTRUCTION,
        ef_search: int = HNSW_EF_SEARCH,
        ivf_nprobe: int = IVF_NPROBE,
    ) -> None:
        if dimension < 1:
            raise ValueError(f"gallery dimension must be positive, got {dimension}")
        if exact_limit < 1:
            raise ValueError(f"exact_limit must be at least 1, got {exact_limit}")
        self.model = model
        self.dimension = dimension
        if ann not in ("hnsw", "ivf"):
            raise ValueError(f"ann must be 'ivf' or 'hnsw', got {ann!r}")
        self.exact_limit = exact_limit
        self.ann: AnnKind = ann
        self.ivf_nprobe = ivf_nprobe
        self.hnsw_m = hnsw_m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.version = 0
        self._lock = ReadWriteLock()
        self._writer = threading.Lock()  # one change at a time; searches go on meanwhile
        empty = np.zeros(0, np.int64)
        self._contents = self._build(np.zeros((0, dimension), np.float32), empty, empty, empty)

    def __len__(self) -> int:
        return self._contents.live

    @property
    def kind(self) -> IndexKind:
        """``"exact"``, ``"ivf"`` or ``"hnsw"``: the index now searched."""
        return self._contents.kind

    def template_ids(self) -> IntArray:
        """The ids of the templates searched now (not those masked out)."""
        with self._lock.read():
            contents = self._contents
            return contents.template_ids[contents.alive]

    @property
    def masked(self) -> int:
        """Removed templates still held by an approximate index; :meth:`compact` frees them."""
        return self._contents.removed

    @property
    def memory_bytes(self) -> int:
        """Bytes held by the index and its id arrays: for capacity planning and metrics."""
        contents = self._contents
        held = contents.index.ntotal * self.dimension * 4  # the float32 vectors themselves
        if contents.kind == "hnsw":
            graph = cast(faiss.IndexHNSWFlat, faiss.downcast_index(contents.index)).hnsw
            links: int = graph.neighbors.size() * 4 + graph.offsets.size() * 8  # type: ignore[attr-defined]  # missing from faiss's stubs
            held += links + graph.levels.size() * 4
        elif contents.kind == "ivf":
            refine = cast(faiss.IndexRefineFlat, faiss.downcast_index(contents.index))
            ivf = cast(faiss.IndexIVFScalarQuantizer, faiss.downcast_index(refine.base_index))
            held += ivf.ntotal * (ivf.code_size + 8)  # each row's code, and its id in its list
            held += ivf.nlist * self.dimension * 4  # the list centroids
        columns = (
            contents.template_ids,
            contents.person_ids,
            contents.watchlist_ids,
            contents.alive,
        )
        return held + sum(column.nbytes for column in columns)

    def add(
        self,
        template_ids: Sequence[int] | IntArray,
        person_ids: Sequence[int] | IntArray,
        watchlist_ids: Sequence[int] | IntArray,
        vectors: FloatArray,
        *,
        model: str,
    ) -> None:
        """Enrol templates; one that takes the gallery past ``exact_limit`` builds the ANN index."""
        self._check_model(model)
        t, p, w, v = self._rows(template_ids, person_ids, watchlist_ids, vectors)
        if not len(v):
            return
        with self._writer:
            current = self._contents
            if current.kind == "exact" and current.live + len(v) > self.exact_limit:
                stored = current.index.reconstruct_n(0, current.index.ntotal)
                grown = self._build(
                    np.vstack([stored, v]),
                    np.concatenate([current.template_ids, t]),
                    np.concatenate([current.person_ids, p]),
                    np.concatenate([current.watchlist_ids, w]),
                )
                with self._lock.write():
                    self._contents = grown
                return
            with self._lock.write():
                current.index.add(v)
                current.template_ids = np.concatenate([current.template_ids, t])
                current.person_ids = np.concatenate([current.person_ids, p])
                current.watchlist_ids = np.concatenate([current.watchlist_ids, w])
                current.alive = np.concatenate([current.alive, np.ones(len(v), np.bool_)])
                current.changed()

    def remove_persons(self, person_ids: Sequence[int] | IntArray) -> int:
        """Stop matching these persons at once; returns how many templates went."""
        doomed = np.asarray(person_ids, np.int64)
        return self._remove(lambda c: np.isin(c.person_ids, doomed))

    def remove_watchlists(self, watchlist_ids: Sequence[int] | IntArray) -> int:
        """Stop matching every entry of these watchlists; returns how many templates went."""
        doomed = np.asarray(watchlist_ids, np.int64)
        return self._remove(lambda c: np.isin(c.watchlist_ids, doomed))

    def remove_templates(self, template_ids: Sequence[int] | IntArray) -> int:
        """Drop single enrolled templates (e.g. a withdrawn photo); returns how many went."""
        doomed = np.asarray(template_ids, np.int64)
        return self._remove(lambda c: np.isin(c.template_ids, doomed))

    def rebuild(
        self,
        template_ids: Sequence[int] | IntArray,
        person_ids: Sequence[int] | IntArray,
        watchlist_ids: Sequence[int] | IntArray,
        vectors: FloatArray,
        *,
        model: str,
        version: int,
    ) -> None:
        """Replace the whole content with the store's, as of gallery ``version``.

        The new index is built while searches continue on the old one; the swap is atomic.
        """
        self._check_model(model)
        t, p, w, v = self._rows(template_ids, person_ids, watchlist_ids, vectors)
        with self._writer:
            rebuilt = self._build(v, t, p, w)
            with self._lock.write():
                self._contents = rebuilt
                self.version = version

    def compact(self) -> None:
        """Rebuild without the masked rows of an ANN index (exact search if small enough)."""
        with self._writer:
            current = self._contents
            if not current.removed:
                return
            keep = current.alive
            vectors = current.index.reconstruct_n(0, current.index.ntotal)[keep]
            compacted = self._build(
                vectors,
                current.template_ids[keep],
                current.person_ids[keep],
                current.watchlist_ids[keep],
            )
            with self._lock.write():
                self._contents = compacted

    def search(self, queries: FloatArray, k: int, *, model: str) -> SearchResult:
        """The ``k`` most similar enrolled templates of each query (rows of ``queries``)."""
        self._check_model(model)
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        q = _unit_rows(queries, self.dimension, "queries")
        with self._lock.read():
            contents = self._contents
            scores, rows = self._search_rows(contents, q, k)
            return SearchResult(
                scores=scores,
                template_ids=_take(contents.template_ids, rows),
                person_ids=_take(contents.person_ids, rows),
                watchlist_ids=_take(contents.watchlist_ids, rows),
            )

    def identity_scores(
        self,
        queries: FloatArray,
        top_k: int,
        *,
        model: str,
        eligible: Eligible | None = None,
    ) -> IdentityScores:
        """Shortlist identities for a set of probes and score every probe against each exactly.

        Each probe's search widens until it holds ``top_k`` distinct eligible identities, so
        a person enrolled with many templates cannot crowd the others out. The shortlist is the
        union of the probes' ``top_k``; every probe is then scored against every template of
        every shortlisted identity from the stored vectors.
        """
        self._check_model(model)
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        q = _unit_rows(queries, self.dimension, "probe templates")
        with self._lock.read():
            contents = self._contents
            ceiling = min(contents.live, MAX_FETCH)
            fetch = min(ceiling, max(4 * top_k, 32))
            verdicts: dict[tuple[int, int], bool] = {}
            while True:
                _, rows = self._search_rows(contents, q, fetch)
                persons, watchlists, complete = _shortlist(
                    contents, rows, top_k, eligible, verdicts
                )
                if complete or fetch >= ceiling:
                    break
                fetch = min(ceiling, 4 * fetch)
            return _rescore(contents, q, persons, watchlists)

    def save(self, path: Path) -> None:
        """Write a snapshot (index and ids in one ``.npz`` file), replaced atomically."""
        with self._lock.read():
            contents = self._contents
            meta = {
                "format": SNAPSHOT_FORMAT,
                "model": self.model,
                "dimension": self.dimension,
                "exact_limit": self.exact_limit,
                "ann": self.ann,
                "ivf_nprobe": self.ivf_nprobe,
                "hnsw_m": self.hnsw_m,
                "ef_construction": self.ef_construction,
                "ef_search": self.ef_search,
                "version": self.version,
                "kind": contents.kind,
            }
            partial = path.with_name(path.name + ".partial")
            with partial.open("wb") as file:
                np.savez(
                    file,
                    meta=np.array(json.dumps(meta)),
                    index=faiss.serialize_index(contents.index),
                    template_ids=contents.template_ids,
                    person_ids=contents.person_ids,
                    watchlist_ids=contents.watchlist_ids,
                    alive=contents.alive,
                )
            os.replace(partial, path)

    @classmethod
    def load(cls, path: Path) -> Gallery:
        """Read a snapshot written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format") != SNAPSHOT_FORMAT:
                raise ValueError(
                    f"{path} is a gallery snapshot of format {meta.get('format')}, this version "
                    f"reads format {SNAPSHOT_FORMAT}: rebuild the gallery from the store"
                )
            gallery = cls(
                meta["model"],
                meta["dimension"],
                meta["exact_limit"],
                ann=meta.get("ann", "hnsw"),
                ivf_nprobe=meta.get("ivf_nprobe", IVF_NPROBE),
                hnsw_m=meta["hnsw_m"],
                ef_construction=meta["ef_construction"],
                ef_search=meta["ef_search"],
            )
            alive = data["alive"].astype(np.bool_)
            contents = _Contents(
                index=faiss.deserialize_index(data["index"]),
                kind=meta["kind"],
                template_ids=data["template_ids"].astype(np.int64),
                person_ids=data["person_ids"].astype(np.int64),
                watchlist_ids=data["watchlist_ids"].astype(np.int64),
                alive=alive,
                removed=int((~alive).sum()),
            )
        if contents.index.d != gallery.dimension or contents.index.ntotal != len(alive):
            raise ValueError(f"{path} is damaged: its index does not match its ids")
        contents.changed()
        gallery._contents = contents
        gallery.version = int(meta["version"])
        return gallery

    def _check_model(self, model: str) -> None:
        if model != self.model:
            raise ValueError(
                f"templates of model '{model}' cannot be compared with this gallery of "
                f"'{self.model}': re-enrol from the kept photos with '{self.model}'"
            )

    def _rows(
        self,
        template_ids: Sequence[int] | IntArray,
        person_ids: Sequence[int] | IntArray,
        watchlist_ids: Sequence[int] | IntArray,
        vectors: FloatArray,
    ) -> tuple[IntArray, IntArray, IntArray, FloatArray]:
        v = _unit_rows(vectors, self.dimension, "enrolled templates")
        ids = [
            _ids(template_ids, "template_ids"),
            _ids(person_ids, "person_ids"),
            _ids(watchlist_ids, "watchlist_ids"),
        ]
        if any(len(column) != len(v) for column in ids):
            raise ValueError(
                f"template_ids, person_ids and watchlist_ids need one entry per vector "
                f"({len(v)}); got {', '.join(str(len(column)) for column in ids)}"
            )
        return ids[0], ids[1], ids[2], v

    def _build(
        self,
        vectors: FloatArray,
        template_ids: IntArray,
        person_ids: IntArray,
        watchlists: IntArray,
    ) -> _Contents:
        kind: IndexKind
        index: faiss.Index
        vectors = np.ascontiguousarray(vectors, np.float32)
        if len(vectors) <= self.exact_limit:
            kind, index = "exact", faiss.IndexFlatIP(self.dimension)
            index.add(vectors)
        elif self.ann == "ivf":
            kind, index = "ivf", self._build_ivf(vectors)
        else:
            graph = faiss.IndexHNSWFlat(self.dimension, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            graph.hnsw.efConstruction = self.ef_construction
            graph.hnsw.efSearch = self.ef_search
            kind, index = "hnsw", graph
            log.info("building an HNSW index of %d templates for %s", len(vectors), self.model)
            index.add(vectors)
        contents = _Contents(
            index=index,
            kind=kind,
            template_ids=template_ids,
            person_ids=person_ids,
            watchlist_ids=watchlists,
            alive=np.ones(len(vectors), np.bool_),
        )
        # Sorted here, aside, so that the first decision after a rebuild does not pay for it.
        contents.rows_of_person()
        return contents

    def _build_ivf(self, vectors: FloatArray) -> faiss.Index:
        """Inverted lists of one-byte codes around k-means centroids, re-ranked exactly.

        About 4·√N lists (a power of two): at a million, 4,096 lists of ~250 templates. The
        centroids and the codes' value ranges are trained on this gallery's own templates;
        later additions go to their nearest list, and every rebuild or compaction trains
        afresh. The exact templates sit beside the lists, for the re-ranking, for rescoring
        and for compaction (``reconstruct`` by row).
        """
        count = len(vectors)
        nlist = ivf_list_count(count)
        log.info(
            "building an IVF index of %d templates in %d lists for %s", count, nlist, self.model
        )
        quantiser = faiss.IndexFlatIP(self.dimension)
        lists = faiss.IndexIVFScalarQuantizer(
            quantiser, self.dimension, nlist, faiss.ScalarQuantizer.QT_8bit,
            faiss.METRIC_INNER_PRODUCT,
        )  # fmt: skip
        lists.cp.min_points_per_centroid = 1  # small galleries: no warning, lists stay valid
        lists.nprobe = self.ivf_nprobe
        index = faiss.IndexRefineFlat(lists)
        index.k_factor = IVF_REFINE_FACTOR
        sample = min(count, IVF_TRAINING_PER_LIST * nlist)
        rows = np.random.default_rng(0).choice(count, sample, replace=False)
        index.train(vectors[np.sort(rows)])
        index.add(vectors)
        return index

    def _remove(self, select: Callable[[_Contents], BoolArray]) -> int:
        with self._writer:
            current = self._contents
            doomed = select(current) & current.alive
            count = int(doomed.sum())
            if not count:
                return 0
            with self._lock.write():
                if current.kind == "exact":
                    current.index.remove_ids(faiss.IDSelectorBatch(np.flatnonzero(doomed)))
                    keep = ~doomed
                    current.template_ids = current.template_ids[keep]
                    current.person_ids = current.person_ids[keep]
                    current.watchlist_ids = current.watchlist_ids[keep]
                    current.alive = current.alive[keep]
                else:
                    _erase(current, np.flatnonzero(doomed))
                    current.alive = current.alive & ~doomed
                    current.removed += count
                current.changed()
            return count

    def _search_rows(
        self, contents: _Contents, q: FloatArray, k: int
    ) -> tuple[FloatArray, IntArray]:
        """Scores and rows of the k best live templates; call inside the shared lock."""
        scores = np.full((len(q), k), -np.inf, np.float32)
        rows = np.full((len(q), k), -1, np.int64)
        fetch = min(k, contents.live)
        if not fetch or not len(q):
            return scores, rows
        if contents.kind == "exact":
            with _one_thread():
                found_scores, found_rows = contents.index.search(q, fetch)
        else:
            params: faiss.SearchParameters
            filtered: faiss.SearchParameters  # where masked rows are skipped
            if contents.kind == "ivf":
                lists = faiss.SearchParametersIVF()
                lists.nprobe = self.ivf_nprobe
                refine = faiss.IndexRefineSearchParameters()
                refine.k_factor = IVF_REFINE_FACTOR
                refine.base_index_params = lists
                params, filtered = refine, lists
            else:
                graph = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]  # not in stubs
                graph.efSearch = max(self.ef_search, fetch)
                params = filtered = graph
            if contents.bitmap is not None:
                # Bound to a local so that the selector outlives the search that uses it.
                selector = faiss.IDSelectorBitmap(
                    len(contents.alive), faiss.swig_ptr(contents.bitmap)
                )
                filtered.sel = selector
            with _one_thread():
                found_scores, found_rows = contents.index.search(q, fetch, params=params)
        scores[:, :fetch] = np.where(found_rows >= 0, found_scores, -np.inf)
        rows[:, :fetch] = found_rows
        return scores, rows


def _erase(contents: _Contents, rows: IntArray) -> None:
    """Overwrite the stored vectors (and inverted-list codes) of ``rows`` of an approximate
    index, which keeps the rows themselves until compaction.

    Masking alone already stops every search from returning them; this is for erasure: a
    deleted person's face must not stay in a replica's memory, readable, for the weeks until
    the index is next trained.
    """
    index = faiss.downcast_index(contents.index)
    if contents.kind == "ivf":
        refine = cast(faiss.IndexRefineFlat, index)
        lists = cast(faiss.IndexIVFScalarQuantizer, faiss.downcast_index(refine.base_index))
        stored = _flat_rows(refine.refine_index)
        _erase_list_codes(lists, stored[rows], rows)
        stored[rows] = 0.0
    else:
        _flat_rows(cast(faiss.IndexHNSWFlat, index).storage)[rows] = 0.0


def _flat_rows(index: faiss.Index) -> FloatArray:
    """A writable view of the vectors an ``IndexFlat`` stores, one row per template."""
    flat = cast(faiss.IndexFlat, faiss.downcast_index(index))
    stored = faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d)
    return cast(FloatArray, stored.reshape(flat.ntotal, flat.d))


def _erase_list_codes(lists: faiss.IndexIVF, vectors: FloatArray, rows: IntArray) -> None:
    """Zero the rows' one-byte codes in the inverted lists: looked for first in the list the
    quantiser gives each vector (where it was added), then, any not found there, in every list.
    """
    inverted, width = lists.invlists, lists.code_size
    if inverted is None:
        raise RuntimeError("the gallery's inverted file has no lists")
    _, nearest = lists.quantizer.search(np.ascontiguousarray(vectors, np.float32), 1)
    first = {int(n): rows[nearest[:, 0] == n] for n in np.unique(nearest[:, 0])}
    left = rows[~np.isin(rows, _zero_codes(inverted, width, first))]
    if len(left):
        everywhere = dict.fromkeys(range(lists.nlist), left)
        missing = np.setdiff1d(left, _zero_codes(inverted, width, everywhere))
        if len(missing):
            raise RuntimeError(f"rows {missing.tolist()} are in none of the gallery's lists")


def _zero_codes(inverted: faiss.InvertedLists, width: int, wanted: dict[int, IntArray]) -> IntArray:
    """Zero the codes of the wanted rows of each list (list number → rows); the rows found."""
    found = []
    for list_no, rows in wanted.items():
        size = inverted.list_size(list_no)
        if not size:
            continue
        ids = faiss.rev_swig_ptr(inverted.get_ids(list_no), size)
        at = np.flatnonzero(np.isin(ids, rows))
        if len(at):
            codes = faiss.rev_swig_ptr(inverted.get_codes(list_no), size * width)
            codes.reshape(size, width)[at] = 0
            found.append(ids[at].astype(np.int64))
    return np.concatenate(found) if found else np.zeros(0, np.int64)


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run the FAISS calls inside on this thread only; OpenMP's setting is per thread."""
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


def _unit_rows(vectors: FloatArray, dimension: int, what: str) -> FloatArray:
    """Check shape and values, then re-normalise: stored or quantised vectors drift off unit."""
    v = np.asarray(vectors, np.float32)
    if v.ndim != 2 or v.shape[1] != dimension:
        raise ValueError(
            f"{what} must be an (N, {dimension}) array for this gallery's model; got {v.shape}"
        )
    if not np.isfinite(v).all():
        raise ValueError(f"{what} contain NaN or infinite values: re-embed those faces")
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError(f"{what} contain all-zero vectors, which cannot be compared")
    return np.ascontiguousarray(v / norms, np.float32)


def _ids(values: Sequence[int] | IntArray, name: str) -> IntArray:
    ids = np.asarray(values)
    if ids.ndim != 1 or (ids.size and not np.issubdtype(ids.dtype, np.integer)):
        raise ValueError(f"{name} must be a flat sequence of integers, got {ids.dtype} {ids.shape}")
    return ids.astype(np.int64)


def _take(ids: IntArray, rows: IntArray) -> IntArray:
    out = np.full(rows.shape, -1, np.int64)
    found = rows >= 0
    out[found] = ids[rows[found]]
    return out


def _shortlist(
    contents: _Contents,
    rows: IntArray,
    top_k: int,
    eligible: Eligible | None,
    verdicts: dict[tuple[int, int], bool],
) -> tuple[IntArray, IntArray, bool]:
    """The union of each probe's first ``top_k`` distinct eligible identities, in rank order.

    ``complete`` is False when some probe found fewer: its search should widen.
    """
    chosen: dict[tuple[int, int], None] = {}
    complete = True
    for probe_rows in rows:
        found = probe_rows[probe_rows >= 0]
        pairs = np.stack([contents.person_ids[found], contents.watchlist_ids[found]], axis=1)
        _, first = np.unique(pairs, axis=0, return_index=True)
        taken = 0
        for person, watchlist in pairs[np.sort(first)].tolist():
            key = (person, watchlist)
            if key not in verdicts:
                verdicts[key] = eligible is None or bool(eligible(person, watchlist))
            if verdicts[key]:
                chosen[key] = None
                taken += 1
                if taken == top_k:
                    break
        complete = complete and taken == top_k
    pairs_chosen = np.array(list(chosen), np.int64).reshape(-1, 2)
    return pairs_chosen[:, 0], pairs_chosen[:, 1], complete


def _rescore(
    contents: _Contents, q: FloatArray, persons: IntArray, watchlists: IntArray
) -> IdentityScores:
    """Best score and template of every probe against every live template of each identity."""
    if not len(persons):
        return IdentityScores(
            person_ids=persons,
            watchlist_ids=watchlists,
            scores=np.zeros((len(q), 0), np.float32),
            template_ids=np.zeros((len(q), 0), np.int64),
        )
    by_person, sorted_persons = contents.rows_of_person()
    starts = np.searchsorted(sorted_persons, persons, "left")
    ends = np.searchsorted(sorted_persons, persons, "right")
    members = []
    for identity, (start, end) in enumerate(zip(starts, ends, strict=True)):
        candidates = by_person[start:end]
        keep = (contents.watchlist_ids[candidates] == watchlists[identity]) & contents.alive[
            candidates
        ]
        members.append(candidates[keep])
    rows = np.concatenate(members)
    groups = np.repeat(np.arange(len(members)), [len(m) for m in members])
    similarity = q @ contents.index.reconstruct_batch(rows).T  # (Q, R)
    # Within each row: columns grouped by identity, best first, so each group's first column
    # is that identity's best template for that probe.
    order = np.lexsort((-similarity, np.broadcast_to(groups, similarity.shape)), axis=-1)
    first = np.concatenate([[0], np.cumsum([len(m) for m in members])[:-1]])
    best = order[:, first]
    return IdentityScores(
        person_ids=persons,
        watchlist_ids=watchlists,
        scores=np.take_along_axis(similarity, best, axis=1).astype(np.float32),
        template_ids=contents.template_ids[rows[best]],
    )
