"""Reading identity folders, LFW and CSV pair lists, and attribute files."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchkeeper.evaluation.datasets import (
    DatasetError,
    group_of,
    identities_from_pairs,
    image_files,
    load_attributes,
    load_identity_folders,
    load_pairs,
    pairs_from_identities,
)


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def _named(pairs, k: int) -> tuple[str, str, bool]:  # type: ignore[no-untyped-def]
    return (
        pairs.images[pairs.left[k]].name,
        pairs.images[pairs.right[k]].name,
        bool(pairs.mated[k]),
    )


def test_identity_folders_skip_non_images_and_empty_folders(tmp_path: Path) -> None:
    _touch(tmp_path / "ann" / "1.jpg")
    _touch(tmp_path / "ann" / "2.PNG")
    _touch(tmp_path / "ann" / "notes.txt")
    (tmp_path / "empty").mkdir()
    _touch(tmp_path / "bob" / "1.jpeg")

    identities = load_identity_folders(tmp_path)

    assert {k: [p.name for p in v] for k, v in identities.items()} == {
        "ann": ["1.jpg", "2.PNG"],
        "bob": ["1.jpeg"],
    }


def test_identity_folders_without_images_are_an_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no identity folders"):
        load_identity_folders(tmp_path)
    with pytest.raises(DatasetError, match="does not exist"):
        load_identity_folders(tmp_path / "missing")


def test_pairs_from_identities_are_all_genuine_within_and_impostor_across() -> None:
    a1, a2, b1 = Path("a/1.jpg"), Path("a/2.jpg"), Path("b/1.jpg")

    pairs = pairs_from_identities({"a": [a1, a2], "b": [b1]})

    assert len(pairs) == 3
    assert sorted(_named(pairs, k) for k in range(3)) == [
        ("1.jpg", "1.jpg", False),
        ("1.jpg", "2.jpg", True),
        ("2.jpg", "1.jpg", False),
    ]


def test_csv_pairs_accept_any_case_and_resolve_against_the_csv_folder(tmp_path: Path) -> None:
    csv = tmp_path / "master.csv"
    csv.write_text("file_x,file_y,Decision\r\nx.jpg,y.jpg,Yes\r\nx.jpg,z.jpg,no", encoding="utf-8")

    pairs = load_pairs(csv)

    assert pairs.images == [tmp_path / "x.jpg", tmp_path / "y.jpg", tmp_path / "z.jpg"]
    assert pairs.left.tolist() == [0, 0] and pairs.right.tolist() == [1, 2]
    assert pairs.mated.tolist() == [True, False]


def test_csv_pairs_with_a_bad_decision_name_the_line(tmp_path: Path) -> None:
    csv = tmp_path / "p.csv"
    csv.write_text("file_x,file_y,Decision\na,b,Yes\na,c,maybe\n", encoding="utf-8")

    with pytest.raises(DatasetError, match=r"p\.csv:3: Decision must be Yes or No"):
        load_pairs(csv)


def test_lfw_pairs_read_three_and_four_field_lines_with_an_optional_header(
    tmp_path: Path,
) -> None:
    txt = tmp_path / "pairs.txt"
    txt.write_text("1\t2\nAnn_Lee\t1\t3\nAnn_Lee\t2\tBob_Ray\t12\n", encoding="utf-8")
    root = tmp_path / "lfw"

    pairs = load_pairs(txt, root)

    assert _named(pairs, 0) == ("Ann_Lee_0001.jpg", "Ann_Lee_0003.jpg", True)
    assert _named(pairs, 1) == ("Ann_Lee_0002.jpg", "Bob_Ray_0012.jpg", False)
    assert pairs.images[0] == root / "Ann_Lee" / "Ann_Lee_0001.jpg"

    txt.write_text("Ann_Lee 1 3\n", encoding="utf-8")
    assert len(load_pairs(txt, root)) == 1


def test_lfw_pairs_with_a_malformed_line_name_it(tmp_path: Path) -> None:
    txt = tmp_path / "pairs.txt"
    txt.write_text("Ann 1 3\nAnn 1\n", encoding="utf-8")

    with pytest.raises(DatasetError, match=r"pairs\.txt:2: not an LFW pair line"):
        load_pairs(txt, tmp_path)


def test_identities_from_pairs_are_connected_components_of_genuine_pairs(
    tmp_path: Path,
) -> None:
    csv = tmp_path / "p.csv"
    csv.write_text(
        "file_x,file_y,Decision\na.jpg,b.jpg,Yes\nb.jpg,c.jpg,Yes\nd.jpg,e.jpg,Yes\n"
        "a.jpg,d.jpg,No\nf.jpg,a.jpg,No\n",
        encoding="utf-8",
    )

    identities = identities_from_pairs(load_pairs(csv))

    assert {k: [p.name for p in v] for k, v in identities.items()} == {
        "a": ["a.jpg", "b.jpg", "c.jpg"],
        "d": ["d.jpg", "e.jpg"],
        "f": ["f.jpg"],
    }


def test_attributes_pick_the_group_column_and_match_path_tails(tmp_path: Path) -> None:
    csv = tmp_path / "attrs.csv"
    csv.write_text("file,age,group\nann/1.jpg,30,F\n2.jpg,40,M\n", encoding="utf-8")

    attributes = load_attributes(csv)

    assert attributes == {"ann/1.jpg": "F", "2.jpg": "M"}
    assert group_of(Path("/data/ann/1.jpg"), attributes) == "F"
    assert group_of(Path("/data/bob/2.jpg"), attributes) == "M"
    assert group_of(Path("/data/bob/1.jpg"), attributes) is None
    assert load_attributes(csv, "age")["2.jpg"] == "40"


def test_attributes_without_a_file_column_are_refused(tmp_path: Path) -> None:
    csv = tmp_path / "attrs.csv"
    csv.write_text("path,group\na.jpg,F\n", encoding="utf-8")

    with pytest.raises(DatasetError, match="file,<attribute>"):
        load_attributes(csv)
    csv.write_text("file,group\na.jpg,F\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="no column 'sex'"):
        load_attributes(csv, "sex")


def test_image_files_of_a_folder_are_recursive_and_sorted(tmp_path: Path) -> None:
    _touch(tmp_path / "b" / "2.jpg")
    _touch(tmp_path / "a.png")
    _touch(tmp_path / "c.txt")

    assert [p.name for p in image_files(tmp_path)] == ["a.png", "2.jpg"]
    assert image_files(tmp_path / "a.png") == [tmp_path / "a.png"]
