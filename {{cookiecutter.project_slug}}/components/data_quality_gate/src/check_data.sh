#!/usr/bin/env bash
# Data-quality gate between prep_data and train: checks the schema and the row counts of
# train.csv and test.csv, and passes them on unchanged only when every check holds.
#   bash check_data.sh --train_data DIR --test_data DIR --target_column NAME --min_rows N \
#     --train_data_checked DIR --test_data_checked DIR
# Checks: each file exists and has a header; no column name is empty or repeated; the target
# column is present; both files have the same columns in the same order; every row has as
# many fields as the header and a target value; each file has at least N rows.
# Exit codes: 0 passed, 1 a check failed (one line per failure on stderr), 2 bad usage.
set -euo pipefail

usage() {
  echo "usage: $0 --train_data DIR --test_data DIR --target_column NAME --min_rows N" \
    "--train_data_checked DIR --test_data_checked DIR" >&2
  exit 2
}

for program in awk cp head mkdir tr; do
  if ! command -v "$program" >/dev/null 2>&1; then
    echo "data-quality gate: program '$program' is not installed on this machine" >&2
    exit 2
  fi
done

train_data="" test_data="" target_column="" min_rows="" train_out="" test_out=""
while [ "$#" -gt 0 ]; do
  [ "$#" -ge 2 ] || usage
  case "$1" in
    --train_data) train_data="$2" ;;
    --test_data) test_data="$2" ;;
    --target_column) target_column="$2" ;;
    --min_rows) min_rows="$2" ;;
    --train_data_checked) train_out="$2" ;;
    --test_data_checked) test_out="$2" ;;
    *) echo "data-quality gate: unknown option $1" >&2; usage ;;
  esac
  shift 2
done
for value in "$train_data" "$test_data" "$target_column" "$min_rows" "$train_out" "$test_out"; do
  [ -n "$value" ] || usage
done
case "$min_rows" in
  '' | *[!0-9]*) echo "data-quality gate: --min_rows must be a whole number, got '$min_rows'" >&2; exit 2 ;;
esac

failures=0
fail() {
  echo "data-quality gate: $*" >&2
  failures=$((failures + 1))
}

# Prints the header of a CSV file; checks its rows. Reports each problem with fail().
check_file() {
  local file="$1" label="$2"
  if [ ! -s "$file" ]; then
    fail "$label: $file is missing or empty"
    return 0
  fi
  local report
  report=$(
    awk -F',' -v target="$target_column" -v min_rows="$min_rows" -v label="$label" '
      NR == 1 {
        sub(/\r$/, "")
        columns = NF
        for (i = 1; i <= NF; i++) {
          if ($i == "") print label ": column " i " has no name"
          if ($i in seen) print label ": column \"" $i "\" appears twice"
          seen[$i] = 1
          if ($i == target) target_field = i
        }
        if (!target_field) print label ": no target column \"" target "\""
        next
      }
      {
        sub(/\r$/, "")
        rows++
        if (NF != columns) bad_width++
        else if (target_field && $target_field == "") no_target++
      }
      END {
        if (bad_width) print label ": " bad_width " row(s) do not have " columns " fields"
        if (no_target) print label ": " no_target " row(s) have no target value"
        if (rows < min_rows) print label ": " rows + 0 " rows, fewer than the minimum " min_rows
        print "ROWS " rows + 0
      }' "$file"
  )
  local line
  while IFS= read -r line; do
    case "$line" in
      ROWS\ *) echo "$label: ${line#ROWS } rows" ;;
      *) fail "$line" ;;
    esac
  done <<<"$report"
}

train_file="$train_data/train.csv"
test_file="$test_data/test.csv"
check_file "$train_file" "train.csv"
check_file "$test_file" "test.csv"
if [ -s "$train_file" ] && [ -s "$test_file" ]; then
  train_header=$(head -n 1 "$train_file" | tr -d '\r')
  test_header=$(head -n 1 "$test_file" | tr -d '\r')
  if [ "$train_header" != "$test_header" ]; then
    fail "train.csv and test.csv do not have the same columns"
  fi
fi

if [ "$failures" -gt 0 ]; then
  echo "data-quality gate: FAILED ($failures problem(s)); train is not run on this data" >&2
  exit 1
fi
mkdir -p "$train_out" "$test_out"
cp "$train_file" "$train_out/train.csv"
cp "$test_file" "$test_out/test.csv"
echo "data-quality gate: passed (target column '$target_column', at least $min_rows rows each)"
