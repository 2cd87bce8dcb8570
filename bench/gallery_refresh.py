"""From a change in the store to a gallery that matches it: how long a recogniser's refresh
takes at N stored templates, after each kind of change.

A store is filled with N templates (random 128-d unit vectors, 5 per person, on one watchlist,
written straight into the tables: enrolling a million real photos would take days), a
recogniser loads it, and each change is made the way the product makes it, then one refresh
is timed (wall and CPU):

- ``rules``: a change that moves the gallery version but no template (a watchlist's
  threshold);
- ``enrolment``: one more person with one template;
- ``delete``: one person deleted (their templates are masked in place since decision 0044;
  before it, a delete rebuilt the gallery, as a deleted template's id could be reused; since
  migration 0013 the gallery reads the store's notes of deleted ids instead of every id).

The store is SQLite in a scratch folder, or with ``--postgres`` a throw-away database made on
that PostgreSQL server (and dropped afterwards), as a city's camera workers share one:

    .venv/bin/python bench/gallery_refresh.py --templates 200000 1000000
    .venv/bin/python bench/gallery_refresh.py --postgres postgres@127.0.0.1:5432 --json out.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert, text

from pipeline import machine  # bench/pipeline.py
from watchkeeper.config import Settings
from watchkeeper.recognition import Recogniser
from watchkeeper.store import Database, repository
from watchkeeper.store.models import Person, Photo, Template

MODEL = "bench@1"
DIMENSION = 128
PER_PERSON = 5
BATCH = 100_000


def _unit(rng: np.random.Generator, count: int) -> np.ndarray:
    vectors = rng.standard_normal((count, DIMENSION)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@contextlib.contextmanager
def postgres_database(server: str) -> Iterator[str]:
    """The URL of a new, empty database on ``server`` (user@host:port), dropped afterwards."""
    import psycopg  # only where PostgreSQL is asked for

    user, _, address = server.rpartition("@")
    host, _, port = address.partition(":")
    name = f"wk_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(
        f"host={host} port={port or 5432} user={user} dbname=postgres", autocommit=True
    ) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://{server}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def filled_store(url: str, templates: int, rng: np.random.Generator) -> tuple[Database, int]:
    """A migrated store at ``url`` holding ``templates`` templates; the database and list id."""
    db = Database(url)
    db.migrate()
    persons = -(-templates // PER_PERSON)
    with db.session() as s:
        watchlist = repository.create_watchlist(s, "bench", "other", "bench", "bench").id
        s.execute(
            insert(Person),
            [{"id": p, "watchlist_id": watchlist, "name": f"p{p}", "created_by": "bench"}
             for p in range(1, persons + 1)],
        )  # fmt: skip
        s.execute(
            insert(Photo),
            [{"id": p, "person_id": p, "media_sha256": "0" * 64, "width": 1, "height": 1,
              "face_box": [0, 0, 1, 1], "quality": 1.0} for p in range(1, persons + 1)],
        )  # fmt: skip
        for start in range(0, templates, BATCH):
            vectors = _unit(rng, min(BATCH, templates - start))
            owners = (start + np.arange(len(vectors))) // PER_PERSON + 1
            s.execute(
                insert(Template),
                [{"person_id": int(p), "photo_id": int(p), "model": MODEL,
                  "dimension": DIMENSION, "vector": v.tobytes()}
                 for p, v in zip(owners, vectors, strict=True)],
            )  # fmt: skip
        if db.engine.dialect.name == "postgresql":  # ids given above: move the sequences on
            for table in ("persons", "photos"):
                s.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {persons})")
                )
        repository.bump_gallery_version(s)
    if db.engine.dialect.name == "postgresql":  # as autovacuum leaves a store that has run a while
        with db.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("VACUUM ANALYZE")
            )
    return db, watchlist


def timed(run: Callable[[], Any]) -> dict[str, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return {
        "wall_s": round(time.perf_counter() - wall, 3),
        "cpu_s": round(time.process_time() - cpu, 3),
    }


def _did(recogniser: Recogniser) -> str | None:
    """What the refresh did (``rebuilt`` or ``followed``); None from a tree that did not say,
    so that this script can time the tree before the gallery followed the store."""
    return getattr(recogniser, "last_refresh", None)


def bench_size(templates: int, seed: int, postgres: str | None = None) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    with contextlib.ExitStack() as scratch:
        if postgres:
            url = scratch.enter_context(postgres_database(postgres))
        else:
            folder = scratch.enter_context(tempfile.TemporaryDirectory(prefix="wk-refresh-"))
            url = Settings(data_dir=Path(folder)).database
        db, watchlist = filled_store(url, templates, rng)
        loaded: list[Recogniser] = []
        row: dict[str, Any] = {"templates": templates}
        row["first_load"] = timed(
            lambda: loaded.append(Recogniser(db, Settings().matching, MODEL, DIMENSION))
        )
        recogniser = loaded[0]
        row["index"] = recogniser.gallery.kind

        with db.session() as s:  # what a threshold change does to the gallery
            repository.bump_gallery_version(s)
        row["rules"] = timed(recogniser.refresh) | {"did": _did(recogniser)}

        with db.session() as s:
            person = Person(watchlist_id=watchlist, name="new", created_by="bench")
            s.add(person)
            s.flush()
            photo = repository.add_photo(s, person, "1" * 64, 1, 1, [0, 0, 1, 1], 1.0)
            repository.add_template(s, person, photo, MODEL, _unit(rng, 1)[0])
        row["enrolment"] = timed(recogniser.refresh) | {"did": _did(recogniser)}

        with db.session() as s:
            repository.delete_person(s, repository.get_person(s, 1))
        row["delete"] = timed(recogniser.refresh) | {"did": _did(recogniser)}
        db.close()
    return row


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--templates", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--postgres", metavar="USER@HOST:PORT", help="store on this PostgreSQL server, not SQLite"
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    rows = [bench_size(n, args.seed, args.postgres) for n in args.templates]
    print("\n".join(f"{key}: {value}" for key, value in machine().items()))
    print(f"\n{'templates':>10} {'index':>6} {'first load':>11} {'rules':>13} "
          f"{'enrolment':>13} {'delete':>13}   (wall s, CPU s in brackets)")  # fmt: skip
    for row in rows:
        cells = [
            f"{row[k]['wall_s']:.2f} ({row[k]['cpu_s']:.2f})"
            for k in ("first_load", "rules", "enrolment", "delete")
        ]
        print(f"{row['templates']:>10,} {row['index']:>6} " + " ".join(f"{c:>13}" for c in cells))
    if args.json:
        result = {"machine": machine(), "store": "postgresql" if args.postgres else "sqlite",
                  "rows": rows}  # fmt: skip
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
