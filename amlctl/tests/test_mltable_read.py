"""amlctl's own MLTable reader against Microsoft's ``mltable`` package, on the same files.

Each case is a small MLTable folder exercising one transformation or option. The package
reads it in its tool environment (``local_run/mltable_env.py``, built once per session with
uv from the hash-locked ``data/mltable-env.txt``) and hands the frame over as the steps get
it (table JSON); the own reader reads the same folder; both must give the same columns,
column kinds and values. A case the package refuses must be refused by the own reader too.
"""

from __future__ import annotations

import importlib.util
import io
import json
import math
import subprocess
from pathlib import Path

import pytest
import yaml

import amlctl.local_run.mltable_env as mltable_env
from amlctl.local_run.steps import Console

SPEC = importlib.util.spec_from_file_location("mltable_read", mltable_env.READER)
mltable_read = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(mltable_read)

TYPED = (
    "name,n,flag,when,score\n"
    "ann,1,True,2020-01-02,1.5\n"
    "bob,,False,2020-01-03 10:11:12,\n"
    '"c,y",3,true,2020-01-04,2\n'
    ",4,false,,0.25\n"
)
OTHER = "name,n,flag,when,score\neve,5,TRUE,2021-02-02,3\n"
SALES = {
    "1000/dominicks/part.csv": "Week,Quantity\n1,10\n2,11\n",
    "1000/tropicana/part.csv": "Week,Quantity\n1,20\n",
    "1001/dominicks/part.csv": "Week,Quantity\n1,30\n2,31\n3,32\n",
}


def table(paths, *transformations):
    return {"type": "mltable", "paths": paths, "transformations": list(transformations)}


ALL_CSV = [{"pattern": "./**/*.csv"}]
DEFAULT = {"read_delimited": {}}
CASES: dict[str, tuple[dict[str, str], dict]] = {
    # read_delimited and its options
    "infer_types": ({"a/x/one.csv": TYPED, "a/two.csv": OTHER}, table(ALL_CSV, DEFAULT)),
    "no_inference": (
        {"a/x/one.csv": TYPED, "a/two.csv": OTHER},
        table(ALL_CSV, {"read_delimited": {"infer_column_types": False}}),
    ),
    "empty_as_string": (
        {"one.csv": TYPED},
        table([{"file": "./one.csv"}], {"read_delimited": {"empty_as_string": True}}),
    ),
    "no_header": (
        {"a/x/one.csv": TYPED, "a/two.csv": OTHER},
        table(ALL_CSV, {"read_delimited": {"header": "no_header"}}),
    ),
    "header_from_first_file": (
        {"a/x/one.csv": TYPED, "a/two.csv": OTHER},
        table(ALL_CSV, {"read_delimited": {"header": "from_first_file"}}),
    ),
    "delimiter_encoding": (
        {"semi.csv": "city;temp\nZürich;3\nMälmo;-2\n"},
        table(
            [{"file": "semi.csv"}],
            {"read_delimited": {"delimiter": ";", "encoding": "utf8"}},
        ),
    ),
    "one_line_per_row": (
        {"m.csv": 'a,b\n1,"x\ny"\n2,"p,q"\n3,z\n'},
        table([{"file": "m.csv"}], DEFAULT),
    ),
    "support_multi_line": (
        {"m.csv": 'a,b\n1,"x\ny"\n2,"p,q"\n3,z\n'},
        table([{"file": "m.csv"}], {"read_delimited": {"support_multi_line": True}}),
    ),
    "path_column": (
        {"a/x/one.csv": TYPED, "a/two.csv": OTHER},
        table(ALL_CSV, {"read_delimited": {"include_path_column": True}}),
    ),
    # types come from the first 200 rows: a 2 at row 200 makes an int column, at row 201
    # it is missing from a bool one
    "inference_sample_inside": (
        {"x.csv": "x,y\n" + "".join(f"{i % 2},a\n" for i in range(199)) + "2,b\n"},
        table([{"file": "x.csv"}], DEFAULT),
    ),
    "inference_sample_beyond": (
        {"x.csv": "x,y\n" + "".join(f"{i % 2},a\n" for i in range(200)) + "2,b\n"},
        table([{"file": "x.csv"}], DEFAULT),
    ),
    # paths: file, folder, pattern; files in the order of their full paths
    "paths_kinds": (
        {"b/2.csv": "v\n2\n", "b/1.csv": "v\n1\n", "c/9.csv": "v\n9\n", "top.csv": "v\n0\n"},
        table([{"file": "top.csv"}, {"folder": "./b"}, {"pattern": "c/*.csv"}], DEFAULT),
    ),
    # partitions from the path, as Microsoft's many-models example writes them
    "partition_format": (
        SALES,
        table(
            ALL_CSV,
            {"read_delimited": {"include_path_column": True}},
            {
                "extract_columns_from_partition_format": {
                    "partition_format": "{Store}/{Brand}/{file_name}.{extension}"
                }
            },
            {"drop_columns": ["Path", "file_name", "extension"]},
        ),
    ),
    "partition_format_dates": (
        {"2020/05/x/p.q.csv": "a\n1\n", "2021/11/x/r.csv": "a\n2\n"},
        table(
            ALL_CSV,
            {"read_delimited": {"include_path_column": True}},
            {
                "extract_columns_from_partition_format": {
                    "partition_format": "{Month:yyyy/MM}/x/{file_name}.csv"
                }
            },
        ),
    ),
    "partition_format_without_path": (
        SALES,
        table(
            ALL_CSV,
            DEFAULT,
            {
                "extract_columns_from_partition_format": {
                    "partition_format": "{Store}/{Brand}/{file_name}.csv"
                }
            },
        ),
    ),
    # row and column transformations
    "take": ({"a/x/one.csv": TYPED, "a/two.csv": OTHER}, table(ALL_CSV, DEFAULT, {"take": 2})),
    "skip": ({"a/x/one.csv": TYPED, "a/two.csv": OTHER}, table(ALL_CSV, DEFAULT, {"skip": 2})),
    "skip_take": (
        {"a/x/one.csv": TYPED, "a/two.csv": OTHER},
        table(ALL_CSV, DEFAULT, {"skip": 1}, {"take": 2}),
    ),
    "filter_number": (
        {"a/x/one.csv": TYPED, "a/two.csv": OTHER},
        table(ALL_CSV, DEFAULT, {"filter": "col('n') > 2"}),
    ),
    "filter_string": (
        {"a/x/one.csv": TYPED, "a/two.csv": OTHER},
        table(ALL_CSV, DEFAULT, {"filter": "col('name') == 'bob'"}),
    ),
    "filter_boolean_logic": (
        {"a/x/one.csv": TYPED, "a/two.csv": OTHER},
        table(ALL_CSV, DEFAULT, {"filter": "col('n') < 2 or not col('flag')"}),
    ),
    "filter_and": (
        {"a/x/one.csv": TYPED, "a/two.csv": OTHER},
        table(ALL_CSV, DEFAULT, {"filter": "col('n') >= 1 and col('score') < 2.5"}),
    ),
    "keep_columns": (
        {"a/x/one.csv": TYPED},
        table(ALL_CSV, DEFAULT, {"keep_columns": ["score", "name"]}),
    ),
    "drop_columns_pattern": (
        {"a/x/one.csv": TYPED},
        table(ALL_CSV, DEFAULT, {"drop_columns": {"pattern": "^[nf]"}}),
    ),
    "convert_column_types": (
        {"a/x/one.csv": TYPED},
        table(
            ALL_CSV,
            {"read_delimited": {"infer_column_types": False}},
            {"convert_column_types": [{"columns": "score", "column_type": "float"}]},
        ),
    ),
    # JSON Lines
    "json_lines": (
        {
            "j/a.jsonl": '{"id": 1, "tag": "x", "v": 0.5}\n{"id": 2, "tag": "y", "v": 1.5}\n',
            "j/b.jsonl": '{"id": 3, "tag": "z", "v": 2.0}\n',
        },
        table(
            [{"pattern": "j/*.jsonl"}],
            {"read_json_lines": {"include_path_column": True}},
            {"filter": "col('id') != 2"},
        ),
    ),
}
# cases the package refuses: the own reader must refuse them too, in one line
REFUSED: dict[str, tuple[dict[str, str], dict]] = {
    "filter_operator": (
        {"one.csv": TYPED},
        table([{"file": "one.csv"}], DEFAULT, {"filter": "(col('n') > 1) & (col('n') < 3)"}),
    ),
    "missing_file": ({"one.csv": TYPED}, table([{"file": "nope.csv"}], DEFAULT)),
    "partition_format_not_an_object": (
        SALES,
        table(
            ALL_CSV,
            {"read_delimited": {"include_path_column": True}},
            {"extract_columns_from_partition_format": "{Store}/{Brand}/{file_name}.csv"},
        ),
    ),
}


def write_case(root: Path, files: dict[str, str], spec: dict) -> Path:
    root.mkdir(parents=True)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    (root / "MLTable").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def package_python():
    """The tool environment's Python (built with uv from the lock, once per session)."""
    said = io.StringIO()
    python = mltable_env.MLTableReader(Console(said)).python()
    assert python, said.getvalue()
    return python


@pytest.fixture(scope="module")
def package_tables(package_python, tmp_path_factory):
    """Every case read by the package in one process (its import takes seconds)."""
    root = tmp_path_factory.mktemp("mltables")
    argv = [package_python, str(mltable_env.READER)]
    folders = {}
    for name, (files, spec) in CASES.items():
        folders[name] = write_case(root / name, files, spec)
        argv += [str(folders[name]), str(root / f"{name}.json")]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return {
        name: (folders[name], mltable_read.from_json(str(root / f"{name}.json"))) for name in CASES
    }


class Close(float):
    """A float equal to another within a few units in the last place (rslex parses text to
    floats with its own routine: the last bit can differ from Python's)."""

    def __eq__(self, other):
        return isinstance(other, float) and math.isclose(self, other, rel_tol=1e-14)

    __hash__ = float.__hash__


def canonical(frame) -> tuple[list[str], list[str], list[list]]:
    """Columns, column kinds (int, float, bool, datetime, other) and plain values."""
    import pandas as pd

    kinds = []
    for column in frame.columns:
        kind = frame[column].dtype.kind
        kinds.append({"i": "int", "f": "float", "b": "bool", "M": "datetime"}.get(kind, "other"))
    rows = []
    for record in frame.itertuples(index=False):
        row = []
        for value in record:
            if value is None or (not isinstance(value, str) and pd.isna(value)):
                row.append(None)
            elif isinstance(value, pd.Timestamp):
                row.append(value.isoformat())
            elif hasattr(value, "item"):
                row.append(value.item())
            else:
                row.append(value)
            if isinstance(row[-1], float):
                row[-1] = None if math.isnan(row[-1]) else Close(row[-1])
        rows.append(row)
    return [str(c) for c in frame.columns], kinds, rows


@pytest.mark.parametrize("name", list(CASES))
def test_own_reader_matches_the_package(name, package_tables):
    folder, from_package = package_tables[name]
    expected = canonical(from_package)
    assert expected[2], f"{name}: the package read no rows; the case tests nothing"
    assert canonical(mltable_read.read_own(str(folder))) == expected


def test_partition_columns_are_the_folder_names(package_tables):
    """The many-models shape itself, spelled out (not only 'both agree')."""
    _, frame = package_tables["partition_format"]
    columns, kinds, rows = canonical(frame)
    assert columns == ["Week", "Quantity", "Store", "Brand"]
    assert kinds == ["int", "int", "other", "other"]
    assert [r[2:] for r in rows] == [["1000", "dominicks"]] * 2 + [["1000", "tropicana"]] + [
        ["1001", "dominicks"]
    ] * 3


def test_parquet_matches_the_package(package_python, tmp_path):
    """Parquet needs pyarrow, which the tool environment has: both readers run there."""
    folder = tmp_path / "pq"
    (folder / "d").mkdir(parents=True)
    (folder / "MLTable").write_text(
        yaml.safe_dump(
            table(
                [{"pattern": "d/*.parquet"}],
                {"read_parquet": {"include_path_column": True}},
                {"skip": 1},
                {"keep_columns": ["Path", "k", "v"]},
            )
        )
    )
    script = """
import sys, pandas as pd
reader, folder, out = sys.argv[1:]
sys.path.insert(0, reader)
import mltable_read
pd.DataFrame({"k": [1, 2], "v": ["a", "b"], "w": [0.5, None]}).to_parquet(f"{folder}/d/1.parquet")
pd.DataFrame({"k": [3], "v": ["c"], "w": [1.5]}).to_parquet(f"{folder}/d/2.parquet")
mltable_read.to_json(mltable_read.read_with_package(folder), f"{out}/package.json")
mltable_read.to_json(mltable_read.read_own(folder), f"{out}/own.json")
"""
    argv = [
        package_python,
        "-c",
        script,
        str(mltable_env.READER.parent),
        str(folder),
        str(tmp_path),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    package = canonical(mltable_read.from_json(str(tmp_path / "package.json")))
    assert package[2] == [
        [str(folder / "d" / "1.parquet"), 2, "b"],
        [str(folder / "d" / "2.parquet"), 3, "c"],
    ]
    assert canonical(mltable_read.from_json(str(tmp_path / "own.json"))) == package


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_by_both(name, package_python, tmp_path):
    folder = write_case(tmp_path / name, *REFUSED[name])
    reader = mltable_env.MLTableReader(Console(io.StringIO()))
    with pytest.raises(mltable_env.TableProblem) as package:
        reader.read(str(folder), tmp_path / "out.json")
    assert "\n" not in str(package.value) and not (tmp_path / "out.json").exists()
    with pytest.raises(mltable_read.Problem) as own:
        mltable_read.read_own(str(folder))
    assert "\n" not in str(own.value)


def test_without_the_package_the_own_reader_says_so(tmp_path, monkeypatch):
    """No tool environment to be had (here: no uv): one line, then the own reader."""
    monkeypatch.setenv("AMLCTL_TOOLS_DIR", str(tmp_path / "tools"))
    monkeypatch.setattr(mltable_env, "uv_binary", lambda: None)
    said = io.StringIO()
    reader = mltable_env.MLTableReader(Console(said))
    folder = write_case(tmp_path / "t", *CASES["take"])
    assert reader.read(str(folder), tmp_path / "out.json") == mltable_env.OWN_READER
    assert reader.read(str(folder), tmp_path / "out.json") == mltable_env.OWN_READER
    lines = said.getvalue().splitlines()
    assert lines == [
        "-- MLTable inputs are read by amlctl's own MLTable reader: the mltable package's "
        "environment cannot be built (uv is missing (pip install uv))"
    ]
    assert not (tmp_path / "out.json").exists()
    assert json.dumps(canonical(mltable_read.read_own(str(folder)))[0]) == json.dumps(
        ["name", "n", "flag", "when", "score"]
    )


def test_tool_environments_of_other_locks_unused_for_a_month_are_removed(tmp_path):
    """After an upgrade the old lock's environment (hundreds of MB) goes once no run has
    used it for UNUSED_DAYS; a recently used one (another amlctl version) and one being
    built (no .complete yet) stay."""
    import os
    import time

    def environment(name: str, days_unused: float | None) -> Path:
        folder = tmp_path / name
        (folder / "bin").mkdir(parents=True)
        if days_unused is not None:
            marker = folder / ".complete"
            marker.write_text("mltable-env.txt")
            then = time.time() - days_unused * 86400
            os.utime(marker, (then, then))
        return folder

    current = environment("mltable-current", 400)
    stale = environment("mltable-old", mltable_env.UNUSED_DAYS + 1)
    (tmp_path / "mltable-old.log").write_text("built")
    recent = environment("mltable-other-version", 2)
    building = environment("mltable-building", None)
    other = environment("spark-tools", 400)
    assert mltable_env.remove_unused(tmp_path, keep=current) == [stale]
    assert not stale.exists() and not (tmp_path / "mltable-old.log").exists()
    assert all(f.is_dir() for f in (current, recent, building, other))
    mltable_env.used(current)  # a run on it marks it used
    assert time.time() - (current / ".complete").stat().st_mtime < 60
