import argparse
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--data")
parser.add_argument("--lookup")
parser.add_argument("--out")
args = parser.parse_args()
rows = sum(len(f.read_text().splitlines()) - 1 for f in Path(args.data).glob("*.csv"))
lookup = len(Path(args.lookup).read_text().splitlines()) - 1
(Path(args.out) / "counts.txt").write_text(f"data={rows} lookup={lookup}\n")
