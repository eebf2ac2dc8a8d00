import argparse
import json
import pickle
from pathlib import Path

import pandas as pd
from sklearn.metrics import r2_score

parser = argparse.ArgumentParser()
parser.add_argument("--model_input")
parser.add_argument("--test_data")
parser.add_argument("--score_report")
args = parser.parse_args()

with open(Path(args.model_input) / "model.pkl", "rb") as handle:
    model = pickle.load(handle)  # noqa: S301 - our own model from the previous step
test = pd.read_csv(Path(args.test_data) / "test.csv")
r2 = r2_score(test["fare"], model.predict(test.drop(columns="fare")))
(Path(args.score_report) / "score.json").write_text(json.dumps({"r2": r2, "rows": len(test)}))
print(f"r2={r2:.3f}")
