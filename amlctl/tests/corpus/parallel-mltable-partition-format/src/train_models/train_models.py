"""One model per (Store, Brand) partition: a linear trend of the target over the weeks."""

import argparse
import json
import os

import numpy as np
import pandas as pd

args = None


def init():
    global args
    parser = argparse.ArgumentParser()
    parser.add_argument("--target_col")
    parser.add_argument("--date_col")
    parser.add_argument("--model_folder")
    args, _ = parser.parse_known_args()


def run(input_data, mini_batch_context):
    if not isinstance(input_data, pd.DataFrame):
        raise TypeError("a partition comes as a DataFrame")
    key = mini_batch_context.partition_key_value
    data = input_data.sort_values(args.date_col)
    weeks = pd.to_datetime(data[args.date_col]) - pd.to_datetime(data[args.date_col]).min()
    slope, intercept = np.polyfit(weeks.dt.days / 7, data[args.target_col], 1)
    folder = os.path.join(args.model_folder, *[str(v) for v in key.values()])
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "model.json"), "w") as handle:
        json.dump({"slope": round(slope, 6), "intercept": round(intercept, 6)}, handle)
    columns = "|".join(sorted(input_data.columns))
    return [f"{key['Store']} {key['Brand']} {len(input_data)} {round(slope, 3)} {columns}"]
