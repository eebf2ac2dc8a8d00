import argparse
from pathlib import Path

import pandas as pd

parser = argparse.ArgumentParser()
parser.add_argument("--raw_data")
parser.add_argument("--prep_data")
args = parser.parse_args()

frames = [pd.read_csv(f) for f in sorted(Path(args.raw_data).glob("*.csv"))]
data = pd.concat(frames).dropna()
data["rush_hour"] = data["hour"].isin([7, 8, 17, 18]).astype(int)
data = pd.get_dummies(data, columns=["vendor"], dtype=int)
data.to_csv(Path(args.prep_data) / "prepped.csv", index=False)
print(f"{len(data)} rows kept")
