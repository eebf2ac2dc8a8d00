"""MLTable folders read locally: through Microsoft's ``mltable`` package, else amlctl's own reader.

Run as a script in the MLTable tool environment (``python mltable_read.py FOLDER OUT.json``;
an environment amlctl builds with uv holding ``mltable``, whose pins of azure-identity
(<=1.17) and pandas (<3) amlctl's own environment cannot have), it loads each folder with
``mltable.load(folder).to_pandas_dataframe()`` and writes the frame as pandas' table JSON
(column types kept, readable by any pandas without pyarrow). Imported by the parallel driver
and the AutoML stand-in (standalone, like them: nothing of amlctl), it reads that JSON back,
or reads the folder itself where the package cannot be had (no PyPI on first use, a Python
the package does not support).

The own reader follows the package's results on local files (each rule compared with
mltable 1.7.0 on the same files: tests/test_mltable_read.py, and on Microsoft's example
MLTables: scripts/compare_mltable_examples.py). ``paths`` (``file``, ``folder``,
``pattern`` with ``**``) entry by entry, a folder's files as the file system lists them, a
pattern's sorted; ``read_delimited`` (``delimiter``, ``header``, ``encoding``,
``empty_as_string``, ``include_path_column``, ``infer_column_types``: types from the first
200 rows, 0/1 as booleans, dates in the forms rslex takes), ``read_parquet``,
``read_json_lines`` (``invalid_lines``, ``include_path_column``); no read_* step: a table of
the paths; then ``take``, ``skip``, ``filter`` (the package's expression language:
``col('x') > 1 and not col('y')``), ``keep_columns``, ``drop_columns`` (names or
``pattern``), ``extract_columns_from_partition_format`` (``{Store}/{Brand}/{file_name}.
{extension}``, ``{Date:yyyy/MM}``, from the path column, None where it does not match),
``convert_column_types`` (``int``, ``float``, ``string``, ``boolean``, ``datetime``).
"""

from __future__ import annotations

import ast
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

PATH_COLUMN = "Path"
# rslex's reading of "true"/"false" in a delimited file (any letter case)
BOOL_WORDS = {"true": True, "false": False, "1": True, "0": False}
INT_TEXT = re.compile(r"^[+-]?\d+$")
# the text rslex takes for a date (others, like "02.01.2020" or "jan 2020", stay text)
DATE_TEXT = re.compile(
    r"^(\d{4}[-/]\d{1,2}[-/]\d{1,2}|\d{1,2}/\d{1,2}/\d{4})"
    r"([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$"
)
# rslex infers a column's type from its first 200 rows (measured with mltable 1.7.0: a 2
# after 199 rows of 0/1 makes an int column, after 200 a bool one where the 2 is missing)
SAMPLE_ROWS = 200


class Problem(Exception):
    """Something in an MLTable file that cannot be read: one line for the user."""


# -- the package, in its own environment --------------------------------------------------------
def read_with_package(folder: str) -> Any:
    """The frame Microsoft's ``mltable`` package makes of a local MLTable folder."""
    import warnings

    warnings.filterwarnings("ignore")
    import mltable

    try:
        return mltable.load(folder).to_pandas_dataframe()
    except Exception as exc:  # the package's errors are several pages long
        raise Problem(f"{folder}: mltable cannot read it: {_package_message(exc)}") from None


def _package_message(exc: Exception) -> str:
    """The one line of a package error that says what is wrong."""
    text = str(exc)
    for label in ("Error Message: ", "Native error: ", "Native Error: "):
        found = re.search(re.escape(label) + r"(.*)", text)
        if found:
            return found.group(1).split("| session_id=")[0].strip()[:300]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0][:300] if lines else ''}"


def to_json(frame: Any, out: str) -> None:
    """pandas' table-oriented JSON: values and column types, no index."""
    frame = frame.reset_index(drop=True)
    for column in frame.columns:  # the package's StreamInfo values: their local paths
        if frame[column].dtype == object:
            frame[column] = frame[column].map(_stream_path)
    Path(out).write_text(frame.to_json(orient="table", index=False, date_format="iso"))


def _stream_path(value: Any) -> Any:
    if type(value).__name__ != "StreamInfo":
        return value
    found = re.fullmatch(r"StreamInfo\[Local\]\((.*)\)", str(value))
    return found.group(1) if found else str(value)


def from_json(path: str) -> Any:
    import io

    import pandas as pd

    text = Path(path).read_text(encoding="utf-8")
    frame = pd.read_json(io.StringIO(text), orient="table")
    return frame.reset_index(drop=True)


# -- amlctl's own reader ------------------------------------------------------------------------
def read_own(folder: str) -> Any:
    """The frame of a local MLTable folder, read without the ``mltable`` package."""
    import pandas as pd

    spec_file, spec = _spec(folder)
    steps = [_step(spec_file, t) for t in spec.get("transformations") or []]
    if steps and steps[0][0].startswith("read_"):
        files = _files(spec_file, spec.get("paths") or [])
        frame = _read(spec_file, files, *steps.pop(0))
    else:  # no read_*: a table of the paths themselves (the package's StreamInfo column)
        paths = _files(spec_file, spec.get("paths") or [], streams=True)
        frame = pd.DataFrame({PATH_COLUMN: [str(p) for p in paths]}, dtype=object)
    for kind, options in steps:
        frame = _transform(spec_file, frame, kind, options)
    return _to_pandas(frame.reset_index(drop=True))


def data_files(folder: str) -> list[Path]:
    """The local files an MLTable folder's ``paths`` name, in the package's order (a folder
    named by a ``file`` entry of a table with no read_* step: its files)."""
    spec_file, spec = _spec(folder)
    found = []
    for path in _files(spec_file, spec.get("paths") or [], streams=True):
        found.extend(_walk(path) if path.is_dir() else [path])
    return found


def is_file_table(folder: str) -> bool:
    """An MLTable with no read_* transformation: its rows are files (a file dataset)."""
    spec_file, spec = _spec(folder)
    steps = [_step(spec_file, t) for t in spec.get("transformations") or []]
    return not (steps and steps[0][0].startswith("read_"))


def _spec(folder: str) -> tuple[Path, dict[str, Any]]:
    import yaml

    base = Path(folder)
    spec_file = base / "MLTable" if base.is_dir() else base
    if not spec_file.is_file():
        raise Problem(f"{folder}: no MLTable file (an mltable input is a folder with one)")
    try:
        spec = yaml.safe_load(spec_file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise Problem(f"{spec_file}: not YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(spec, dict):
        raise Problem(f"{spec_file}: expected a mapping with 'paths' and 'transformations'")
    return spec_file, spec


def _step(spec_file: Path, transformation: Any) -> tuple[str, Any]:
    if isinstance(transformation, str):
        return transformation, {}
    if isinstance(transformation, dict) and len(transformation) == 1:
        ((kind, options),) = transformation.items()
        return str(kind), options
    raise Problem(f"{spec_file}: transformation {transformation!r} is not one name and options")


def _files(spec_file: Path, paths: list[Any], streams: bool = False) -> list[Path]:
    """In the package's order: entry by entry; a folder's files as the file system lists
    them (subfolders entered where they are listed), a pattern's sorted by path."""
    root = spec_file.parent
    found: list[Path] = []
    for entry in paths:
        if not isinstance(entry, dict) or len(entry) != 1:
            raise Problem(f"{spec_file}: paths entry {entry!r} is not one of file/folder/pattern")
        ((kind, value),) = entry.items()
        text = str(value)
        if "://" in text and not text.startswith("file://"):
            raise Problem(
                f"{spec_file}: {text} is remote; locally an MLTable's paths must be local files"
            )
        text = text.removeprefix("file://")
        if kind == "file":
            found.append((root / text).resolve())
            if not (found[-1].is_file() or (streams and found[-1].is_dir())):
                raise Problem(f"{spec_file}: {found[-1]} does not exist")
        elif kind == "folder":
            if not (root / text).is_dir():
                raise Problem(f"{spec_file}: folder {(root / text).resolve()} does not exist")
            found.extend(_walk((root / text).resolve()))
        elif kind == "pattern":
            pattern = text.removeprefix("./")
            found.extend(sorted((p.resolve() for p in root.glob(pattern) if p.is_file()), key=str))
        else:
            raise Problem(f"{spec_file}: paths entry '{kind}' is not one of file/folder/pattern")
    if not found:
        raise Problem(f"{spec_file}: its paths match no file")
    return found


def _walk(folder: Path) -> list[Path]:
    import os

    files: list[Path] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir():
                files.extend(_walk(Path(entry.path)))
            elif entry.is_file():
                files.append(Path(entry.path))
    return files


def _encoding(name: Any) -> str:
    text = str(name or "utf8").lower().replace(" ", "")
    return {
        "utf8": "utf-8",
        "utf8bom": "utf-8-sig",
        "iso88591": "latin-1",
        "windows1252": "cp1252",
        "utf16": "utf-16",
    }.get(text, text)


def _read(spec_file: Path, files: list[Path], kind: str, options: Any) -> Any:
    import pandas as pd

    options = dict(options or {})
    path_column = options.get("include_path_column") and PATH_COLUMN
    parts = []
    if kind == "read_delimited":
        header = options.get("header", "all_files_same_headers")
        infer = options.get("infer_column_types", True) is not False
        empty_as_string = bool(options.get("empty_as_string"))
        names: list[str] = []
        for index, file in enumerate(files):
            first_line_header = header in ("all_files_same_headers", "all_files_different_headers")
            first_line_header = first_line_header or (header == "from_first_file" and index == 0)
            rows = _delimited_rows(file, options)
            if first_line_header:
                names = [str(n) for n in rows.pop(0)] if rows else names
            elif header == "no_header":
                width = max((len(r) for r in rows), default=0)
                names = [f"Column{i + 1}" for i in range(width)]
            part = pd.DataFrame(
                [r[: len(names)] + [None] * (len(names) - len(r)) for r in rows],
                columns=names,
                dtype=object,
            )
            parts.append(_with_path(part, file, path_column))
        frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        frame = frame.astype(object).where(frame.notna(), None)
        return _infer(frame, infer, empty_as_string, skip=[PATH_COLUMN] if path_column else [])
    if kind == "read_parquet":
        import importlib.util

        if not any(importlib.util.find_spec(m) for m in ("pyarrow", "fastparquet")):
            raise Problem(
                f"{spec_file}: reading Parquet needs pyarrow in this environment "
                "(pip install pyarrow), or the mltable package's environment"
            )
        for file in files:
            parts.append(_with_path(pd.read_parquet(file), file, path_column))
    elif kind == "read_json_lines":
        drop_invalid = options.get("invalid_lines", "error") == "drop"
        for file in files:
            rows = []
            text = file.read_text(encoding=_encoding(options.get("encoding")))
            for number, line in enumerate(text.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    if drop_invalid:
                        continue
                    raise Problem(
                        f"{file}:{number}: not a JSON line (invalid_lines: drop skips such lines)"
                    ) from None
            parts.append(_with_path(pd.DataFrame(rows), file, path_column))
    else:
        raise Problem(
            f"{spec_file}: '{kind}' is not read locally (read_delimited, read_parquet, "
            "read_json_lines are)"
        )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _delimited_rows(file: Path, options: dict[str, Any]) -> list[list[Any]]:
    """The fields of each row. Without ``support_multi_line`` (the default) each line is a
    row, as rslex reads it: a quote left open on a line stays in the field's text."""
    import csv

    delimiter = str(options.get("delimiter", ","))
    try:
        text = file.read_text(encoding=_encoding(options.get("encoding")))
    except (UnicodeDecodeError, LookupError) as exc:
        encoding = options.get("encoding", "utf8")
        raise Problem(f"{file}: cannot be read as {encoding}: {exc}") from None
    if options.get("support_multi_line"):
        return [row for row in csv.reader(text.splitlines(keepends=True), delimiter=delimiter)]
    rows = []
    for line in text.splitlines():
        if not line:
            continue
        if line.count('"') % 2:
            rows.append(line.split(delimiter))
        else:
            rows.append(next(csv.reader([line], delimiter=delimiter)))
    return rows


def _with_path(part: Any, file: Path, path_column: Any) -> Any:
    if path_column:
        part.insert(0, path_column, str(file))
    return part


def _infer(frame: Any, infer: bool, empty_as_string: bool, skip: list[str]) -> Any:
    """Column types as rslex infers them from text: int, float, bool, datetime, else string.

    Int and bool columns hold Python values (None where empty) until ``_to_pandas``: their
    pandas type depends on the rows left at the end (int64, or float64 with missing values),
    as the package's conversion does."""
    import pandas as pd

    for column in frame.columns:
        values = frame[column]
        if not empty_as_string:
            values = values.where(values != "", None)
        frame[column] = values
        if not infer or column in skip:
            continue
        sample = [v for v in values[:SAMPLE_ROWS] if v is not None]
        if not sample or "" in sample:
            continue
        kind = _kind(sample)
        if kind == "bool":
            words = [None if v is None else BOOL_WORDS.get(v.lower()) for v in values]
            frame[column] = pd.Series(words, dtype=object)
        elif kind == "int":
            numbers = [int(v) if v is not None and INT_TEXT.match(v) else None for v in values]
            frame[column] = pd.Series(numbers, dtype=object)
        elif kind == "float":
            frame[column] = pd.Series([_float(v) for v in values], dtype="float64")
        elif kind == "datetime":
            frame[column] = _dates(values)
    return frame


def _kind(sample: list[str]) -> str:
    if all(v.lower() in BOOL_WORDS for v in sample):
        return "bool"
    if all(INT_TEXT.match(v) for v in sample):
        return "int"
    if all(_float(v) is not None for v in sample):
        return "float"
    if all(DATE_TEXT.match(v) for v in sample):
        return "datetime"
    return "string"


def _float(text: Any) -> float | None:
    """A number (NaN for a value that is not one in a float column, as the package)."""
    if text is None or "_" in text:
        return float("nan") if text is None else None
    try:
        return float(text)
    except ValueError:
        return None


def _dates(values: Any) -> Any:
    import pandas as pd

    parsed = []
    for value in values:
        if value is None or not DATE_TEXT.match(value):
            parsed.append(pd.NaT)
            continue
        try:
            stamp = pd.Timestamp(value.replace("/", "-") if value[4:5] == "/" else value)
        except ValueError:
            parsed.append(pd.NaT)
            continue
        parsed.append(stamp.tz_convert(None) if stamp.tzinfo else stamp)
    return pd.Series(pd.to_datetime(parsed), dtype="datetime64[ns]")


def _to_pandas(frame: Any) -> Any:
    """The pandas types the package's ``to_pandas_dataframe`` gives the rows left: int64
    (float64 with a missing value), bool (object with one), a column with no value: None."""
    import pandas as pd

    for column in frame.columns:
        values = list(frame[column])
        missing = [v is None or (isinstance(v, float) and v != v) or v is pd.NaT for v in values]
        if values and all(missing):
            frame[column] = pd.Series([None] * len(values), dtype=object, index=frame.index)
            continue
        if frame[column].dtype != object:
            continue
        present = [v for v, gone in zip(values, missing, strict=True) if not gone]
        if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
            dtype = "int64" if not any(missing) else "float64"
            numbers = [float("nan") if gone else v for v, gone in zip(values, missing, strict=True)]
            frame[column] = pd.Series(numbers, dtype=dtype, index=frame.index)
        elif all(isinstance(v, bool) for v in present) and not any(missing):
            frame[column] = frame[column].astype(bool)
    return frame


def _columns(frame: Any, selector: Any, spec_file: Path, what: str) -> list[str]:
    if isinstance(selector, dict):
        pattern = re.compile(
            str(selector.get("pattern", "")), re.IGNORECASE if selector.get("ignore_case") else 0
        )
        chosen = [c for c in frame.columns if pattern.search(str(c))]
        if selector.get("invert"):
            chosen = [c for c in frame.columns if c not in chosen]
        return chosen
    names = [str(x) for x in (selector if isinstance(selector, list) else [selector])]
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise Problem(f"{spec_file}: {what}: no column {', '.join(missing)}")
    return names


def _transform(spec_file: Path, frame: Any, kind: str, options: Any) -> Any:
    if kind == "take":
        return frame.head(int(options))
    if kind == "skip":
        return frame.iloc[int(options) :]
    if kind == "keep_columns":  # in the frame's order, not the list's (as the package)
        kept = set(_columns(frame, options, spec_file, kind))
        return frame[[c for c in frame.columns if c in kept]]
    if kind == "drop_columns":
        return frame.drop(columns=_columns(frame, options, spec_file, kind))
    if kind == "filter":
        keep = [bool(_truth(_evaluate(spec_file, str(options), row))) for row in _records(frame)]
        return frame[keep]
    if kind == "extract_columns_from_partition_format":
        if not isinstance(options, dict) or not options.get("partition_format"):
            raise Problem(
                f"{spec_file}: extract_columns_from_partition_format takes "
                "{partition_format: '...'} (the MLTable schema)"
            )
        return _partition_columns(frame, str(options["partition_format"]))
    if kind == "convert_column_types":
        for entry in options or []:
            for column in _columns(frame, entry.get("columns"), spec_file, kind):
                frame[column] = _convert(spec_file, frame[column], entry.get("column_type"))
        return frame
    if kind.startswith("read_"):
        raise Problem(f"{spec_file}: '{kind}' after another read_*; an MLTable reads once")
    raise Problem(
        f"{spec_file}: transformation '{kind}' is not read locally (take, skip, filter, "
        "keep_columns, drop_columns, extract_columns_from_partition_format, "
        "convert_column_types are)"
    )


def _records(frame: Any) -> list[dict[str, Any]]:
    return frame.to_dict(orient="records")


def _truth(value: Any) -> bool:
    return value is not None and value == value and bool(value)  # None and NaN are false


def _evaluate(spec_file: Path, expression: str, row: dict[str, Any]) -> Any:
    """The package's filter language on one row: col('x'), literals, comparisons, and/or/not."""
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        raise Problem(f"{spec_file}: filter '{expression}' is not an expression") from None
    return _node(spec_file, expression, tree.body, row)


def _node(spec_file: Path, expression: str, node: ast.AST, row: dict[str, Any]) -> Any:
    import operator

    def value(n: ast.AST) -> Any:
        return _node(spec_file, expression, n, row)

    if isinstance(node, ast.Constant):
        return node.value
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "col"
        and len(node.args) == 1
        and isinstance(node.args[0], ast.Constant)
    ):
        name = node.args[0].value
        if name not in row:
            raise Problem(f"{spec_file}: filter '{expression}': no column {name}")
        return row[name]
    if isinstance(node, ast.BoolOp):
        results = [_truth(value(v)) for v in node.values]
        return all(results) if isinstance(node.op, ast.And) else any(results)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return not _truth(value(node.operand))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -value(node.operand)
    if isinstance(node, ast.Compare):
        ops = {
            ast.Eq: operator.eq,
            ast.NotEq: operator.ne,
            ast.Lt: operator.lt,
            ast.LtE: operator.le,
            ast.Gt: operator.gt,
            ast.GtE: operator.ge,
        }
        left = value(node.left)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = value(right_node)
            if type(op) not in ops:
                raise Problem(f"{spec_file}: filter '{expression}': operator not supported")
            if left is None or right is None or left != left or right != right:
                return False  # a missing value compares false, as in the package
            try:
                if not ops[type(op)](_comparable(left), _comparable(right)):
                    return False
            except TypeError:
                return False
            left = right
        return True
    raise Problem(
        f"{spec_file}: filter '{expression}': only col('name'), literals, comparisons, "
        "and, or, not are read locally"
    )


def _comparable(value: Any) -> Any:
    if hasattr(value, "item") and not hasattr(value, "tzinfo"):
        return value.item()
    return value


FORMAT_TOKENS = {
    "yyyy": r"\d{4}",
    "MM": r"\d{2}",
    "dd": r"\d{2}",
    "HH": r"\d{2}",
    "mm": r"\d{2}",
    "ss": r"\d{2}",
}
STRFTIME = {"yyyy": "%Y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}


def _partition_columns(frame: Any, partition_format: str) -> Any:
    """Columns from the path column by a partition format, matched at the end of each path."""
    import pandas as pd

    pattern = ""
    names: list[str] = []
    dates: dict[str, str] = {}
    for part in re.split(r"(\{[^{}]+\})", partition_format.replace("\\", "/")):
        if part.startswith("{") and part.endswith("}"):
            name, _, date_format = part[1:-1].partition(":")
            if date_format:
                group = re.sub(
                    "|".join(FORMAT_TOKENS), lambda m: FORMAT_TOKENS[m.group()], date_format
                )
                dates[name] = re.sub("|".join(STRFTIME), lambda m: STRFTIME[m.group()], date_format)
                pattern += f"(?P<{name}>{group})"
            else:
                names.append(name)
                pattern += f"(?P<{name}>[^/]+)"
        else:
            pattern += re.escape(part)
    matcher = re.compile(f"(?:^|/){pattern}$")
    paths = frame[PATH_COLUMN] if PATH_COLUMN in frame.columns else [None] * len(frame)
    found = [matcher.search(str(p).replace("\\", "/")) if p is not None else None for p in paths]
    for name in names:
        frame[name] = [m.group(name) if m else None for m in found]
    for name, strftime in dates.items():
        frame[name] = pd.to_datetime([m.group(name) if m else None for m in found], format=strftime)
    return frame


def _convert(spec_file: Path, column: Any, column_type: Any) -> Any:
    import pandas as pd

    if column_type == "string":
        return column.map(lambda v: None if v is None or v != v else str(v)).astype(object)
    if column_type == "int":
        return pd.to_numeric(column).astype("int64")
    if column_type == "float":
        return pd.to_numeric(column).astype("float64")
    if column_type == "boolean":
        return column.map(lambda v: BOOL_WORDS.get(str(v).lower(), bool(v)))
    if isinstance(column_type, dict) and "datetime" in column_type:
        formats = column_type["datetime"].get("formats")
        first = formats[0] if isinstance(formats, list) else formats
        return pd.to_datetime(column, format=first)
    raise Problem(f"{spec_file}: convert_column_types: '{column_type}' is not read locally")


def main(argv: list[str]) -> int:
    """``FOLDER OUT [FOLDER OUT ...]``: each folder's table to its JSON file (one import of
    the package, which takes seconds, for several tables)."""
    if not argv or len(argv) % 2:
        print("usage: mltable_read.py FOLDER OUT.json [FOLDER OUT.json ...]", file=sys.stderr)
        return 2
    failed = 0
    for folder, out in zip(argv[::2], argv[1::2], strict=True):
        try:
            to_json(read_with_package(folder), out)
        except Problem as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
    return 2 if failed else 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # rslex registers an exit handler that waits about 3 s to send its telemetry (to
    # Application Insights, over the network): the tables are written, nothing is lost
    os._exit(code)
