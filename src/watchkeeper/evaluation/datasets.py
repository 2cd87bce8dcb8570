"""Labelled face data in the formats people already have: identity folders and pair lists.

Three layouts are read:

- a folder per identity, ``root/<name>/*.jpg`` (the usual gallery layout): every pair of
  photos within an identity is genuine, every pair across identities an impostor pair;
- LFW ``pairs.txt``: an optional header line of counts, then ``name n1 n2`` (same person,
  photos ``root/name/name_000n.jpg``) or ``name1 n1 name2 n2`` (different people);
- a CSV ``file_x,file_y,Decision`` with Decision ``Yes``/``No`` (deepface's ``master.csv``),
  paths relative to the image root.

A verification protocol is held as index arrays into one list of unique images, so that each
image is templated once and a million pairs are a vectorised lookup, not a million objects.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})

IntVector = npt.NDArray[np.int64]


class DatasetError(Exception):
    """A dataset or pair list cannot be read; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class PairSet:
    """Verification pairs: ``images[left[k]]`` vs ``images[right[k]]``, genuine if ``mated[k]``."""

    images: list[Path]
    left: IntVector
    right: IntVector
    mated: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.left.size)


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def image_files(path: Path) -> list[Path]:
    """The image files of a file or (recursively) a folder, sorted."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DatasetError(f"{path} does not exist")
    return sorted(p for p in path.rglob("*") if _is_image(p))


def load_identity_folders(root: Path) -> dict[str, list[Path]]:
    """Identities of a ``root/<name>/*.jpg`` tree; folders without images are left out."""
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist")
    identities = {
        folder.name: sorted(p for p in folder.iterdir() if _is_image(p))
        for folder in sorted(root.iterdir())
        if folder.is_dir()
    }
    identities = {name: files for name, files in identities.items() if files}
    if not identities:
        raise DatasetError(f"{root} holds no identity folders with images (expected name/*.jpg)")
    return identities


def pairs_from_identities(identities: dict[str, list[Path]]) -> PairSet:
    """Every genuine pair within an identity and every impostor pair across identities."""
    images = [p for files in identities.values() for p in files]
    labels = np.repeat(np.arange(len(identities)), [len(f) for f in identities.values()])
    left, right = np.triu_indices(len(images), k=1)
    return PairSet(
        images, left.astype(np.int64), right.astype(np.int64), labels[left] == labels[right]
    )


def _pair_set(rows: list[tuple[Path, Path, bool]]) -> PairSet:
    index: dict[Path, int] = {}
    for x, y, _ in rows:
        index.setdefault(x, len(index))
        index.setdefault(y, len(index))
    return PairSet(
        images=list(index),
        left=np.array([index[x] for x, _, _ in rows], np.int64),
        right=np.array([index[y] for _, y, _ in rows], np.int64),
        mated=np.array([m for _, _, m in rows], np.bool_),
    )


def load_pairs_csv(path: Path, image_root: Path | None = None) -> PairSet:
    """Pairs from a ``file_x,file_y,Decision`` CSV; files relative to ``image_root``.

    ``image_root`` defaults to the CSV's own folder. Decision is ``Yes`` (same person) or
    ``No``, in any case; other columns are ignored.
    """
    root = image_root if image_root is not None else path.parent
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            table = list(csv.DictReader(handle))
    except OSError as exc:
        raise DatasetError(f"cannot read pair list {path}: {exc}") from exc
    rows = []
    for line, row in enumerate(table, start=2):
        fields = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        if not {"file_x", "file_y", "decision"} <= fields.keys():
            raise DatasetError(f"{path} needs the columns file_x,file_y,Decision")
        decision = fields["decision"].lower()
        if decision not in ("yes", "no"):
            raise DatasetError(f"{path}:{line}: Decision must be Yes or No, got '{decision}'")
        rows.append((root / fields["file_x"], root / fields["file_y"], decision == "yes"))
    if not rows:
        raise DatasetError(f"{path} lists no pairs")
    return _pair_set(rows)


def load_lfw_pairs(path: Path, image_root: Path) -> PairSet:
    """Pairs from an LFW ``pairs.txt``; photo ``n`` of ``name`` is ``name/name_000n.jpg``.

    The header line of counts (``10 300`` or ``300``) is optional: a line of numbers only is
    skipped. Fields are separated by tabs or spaces.
    """

    def photo(name: str, number: str) -> Path:
        return image_root / name / f"{name}_{int(number):04d}.jpg"

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DatasetError(f"cannot read pair list {path}: {exc}") from exc
    rows = []
    for line_no, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields or all(f.isdigit() for f in fields):
            continue
        try:
            if len(fields) == 3:
                rows.append((photo(fields[0], fields[1]), photo(fields[0], fields[2]), True))
            elif len(fields) == 4:
                rows.append((photo(fields[0], fields[1]), photo(fields[2], fields[3]), False))
            else:
                raise ValueError(f"expected 3 or 4 fields, found {len(fields)}")
        except ValueError as exc:
            raise DatasetError(f"{path}:{line_no}: not an LFW pair line ({exc})") from exc
    if not rows:
        raise DatasetError(f"{path} lists no pairs")
    return _pair_set(rows)


def load_pairs(path: Path, image_root: Path | None = None) -> PairSet:
    """A pair list in either format: ``.csv`` is read as a CSV, anything else as LFW."""
    if not path.is_file():
        raise DatasetError(f"pair list {path} does not exist")
    if path.suffix.lower() == ".csv":
        return load_pairs_csv(path, image_root)
    return load_lfw_pairs(path, image_root if image_root is not None else path.parent)


def identities_from_pairs(pairs: PairSet) -> dict[str, list[Path]]:
    """Identities implied by a pair list: the connected components of its genuine pairs.

    A pair list names no identities, only "same" or "different"; if A~B and B~C are genuine,
    A, B and C are one person. Each component is named after its first file's stem. Caveat:
    two photos of one person that no chain of genuine pairs links become two identities, so
    use this only for lists that, like deepface's ``master.csv``, pair every photo of a person
    with another one (checked: its 38 genuine pairs form 9 complete cliques over 25 photos).
    """
    parent = list(range(len(pairs.images)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in zip(pairs.left[pairs.mated], pairs.right[pairs.mated], strict=True):
        parent[find(int(a))] = find(int(b))
    groups: dict[int, list[Path]] = defaultdict(list)
    for i, image in enumerate(pairs.images):
        groups[find(i)].append(image)
    components = [sorted(files) for files in groups.values()]
    return {files[0].stem: files for files in sorted(components, key=lambda f: f[0].name)}


def load_attributes(path: Path, column: str | None = None) -> dict[str, str]:
    """Group of each image from a CSV ``file,<attribute>...``, keyed by file name.

    ``column`` picks the attribute (default: ``group`` if present, else the second column).
    Keys are file names, not paths, so the CSV need not know where the dataset lives; a
    dataset with two files of the same name in different folders should use relative paths,
    which are kept as written and matched against the image path's tail.
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = [{(k or "").strip(): (v or "").strip() for k, v in r.items()} for r in reader]
            header = [h.strip() for h in reader.fieldnames or []]
    except OSError as exc:
        raise DatasetError(f"cannot read attributes {path}: {exc}") from exc
    if len(header) < 2 or header[0].lower() != "file":
        raise DatasetError(f"{path} must start with the columns file,<attribute>")
    chosen = column or ("group" if "group" in header else header[1])
    if chosen not in header:
        raise DatasetError(f"{path} has no column '{chosen}'; columns: {', '.join(header)}")
    return {row[header[0]]: row[chosen] for row in rows if row[header[0]]}


def group_of(image: Path, attributes: dict[str, str]) -> str | None:
    """The group of an image: matched by its longest path tail that the attribute file lists."""
    parts = image.parts
    for start in range(len(parts)):
        group = attributes.get("/".join(parts[start:]))
        if group is not None:
            return group
    return None
