import argparse
import json
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--training_data")
parser.add_argument("--max_epochs", type=int)
parser.add_argument("--learning_rate", type=float)
parser.add_argument("--model_output")
args = parser.parse_args()

rows = sum(len(f.read_text().splitlines()) - 1 for f in Path(args.training_data).glob("*.csv"))
model = {"rows": rows, "epochs": args.max_epochs, "lr": args.learning_rate}
(Path(args.model_output) / "model.json").write_text(json.dumps(model))
print(f"trained {model}")
