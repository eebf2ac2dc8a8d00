import argparse
import pickle
from pathlib import Path

import pandas as pd
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import train_test_split

parser = argparse.ArgumentParser()
parser.add_argument("--training_data")
parser.add_argument("--test_split_ratio", type=float)
parser.add_argument("--model_output")
parser.add_argument("--test_data")
args = parser.parse_args()

data = pd.read_csv(Path(args.training_data) / "prepped.csv")
train, test = train_test_split(data, test_size=args.test_split_ratio, random_state=0)
model = LinearRegression().fit(train.drop(columns="fare"), train["fare"])
with open(Path(args.model_output) / "model.pkl", "wb") as handle:
    pickle.dump(model, handle)
test.to_csv(Path(args.test_data) / "test.csv", index=False)
print(f"trained on {len(train)} rows")
