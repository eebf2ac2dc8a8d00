"""Unit tests of components/to_mltable/src/to_mltable.py."""

import importlib.util
from pathlib import Path

import pandas as pd
import yaml

SRC = Path(__file__).resolve().parents[1] / "src"


def load_script():
    spec = importlib.util.spec_from_file_location("to_mltable_under_test", SRC / "to_mltable.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


to_mltable = load_script()


def test_table_holds_the_csv_files_and_an_mltable_that_reads_them(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    pd.DataFrame({"x": [1.0, 2.0], "target": [0, 1]}).to_csv(data / "train.csv", index=False)
    (data / "notes.txt").write_text("not a table")
    assert to_mltable.main(["--data", str(data), "--table", str(tmp_path / "table")]) == 0
    table = tmp_path / "table"
    assert sorted(p.name for p in table.iterdir()) == ["MLTable", "train.csv"]
    spec = yaml.safe_load((table / "MLTable").read_text())
    assert spec["type"] == "mltable"
    assert spec["paths"] == [{"pattern": "./*.csv"}]
    assert spec["transformations"][0]["read_delimited"]["header"] == "all_files_same_headers"
    assert pd.read_csv(table / "train.csv").equals(pd.read_csv(data / "train.csv"))


def test_a_folder_without_csv_files_is_an_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert to_mltable.main(["--data", str(tmp_path / "empty"), "--table", str(tmp_path / "t")]) == 2
    assert "no CSV file in" in capsys.readouterr().err
    assert not (tmp_path / "t").exists()
