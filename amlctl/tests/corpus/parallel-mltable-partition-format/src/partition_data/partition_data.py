"""Writes one CSV per partition (<Store>/<Brand>/part.csv, without the key columns) and an
MLTable file that puts the keys back as columns from the folder names."""

import argparse
import os

import pandas as pd
import yaml

parser = argparse.ArgumentParser()
parser.add_argument("--data_source")
parser.add_argument("--partition_keys")
parser.add_argument("--tabular_output_data")
args = parser.parse_args()

keys = args.partition_keys.split(",")
frame = pd.read_csv(args.data_source)
for values, part in frame.groupby(keys):
    folder = os.path.join(args.tabular_output_data, *[str(v) for v in values])
    os.makedirs(folder, exist_ok=True)
    part.drop(columns=keys).to_csv(os.path.join(folder, "part.csv"), index=False)

partition_format = "/".join("{" + key + "}" for key in keys) + "/{file_name}.{extension}"
table = {
    "type": "mltable",
    "paths": [{"pattern": "./**/*.csv"}],
    "transformations": [
        {
            "read_delimited": {
                "delimiter": ",",
                "encoding": "ascii",
                "header": "all_files_same_headers",
                "empty_as_string": False,
                "include_path_column": True,
            }
        },
        {"extract_columns_from_partition_format": {"partition_format": partition_format}},
        {"drop_columns": ["Path", "file_name", "extension"]},
    ],
}
with open(os.path.join(args.tabular_output_data, "MLTable"), "w") as handle:
    yaml.safe_dump(table, handle, sort_keys=False)
print(f"{frame.groupby(keys).ngroups} partitions by {partition_format}")
