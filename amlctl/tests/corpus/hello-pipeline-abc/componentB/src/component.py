import argparse
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--letter")
parser.add_argument("--number", type=float)
parser.add_argument("--in_path")
parser.add_argument("--out_path")
args = parser.parse_args()

trail = ""
if args.in_path:
    trail = (Path(args.in_path) / "trail.txt").read_text()
trail += f"{args.letter}:{args.number:g};"
(Path(args.out_path) / "trail.txt").write_text(trail)
print(f"component {args.letter}: {trail}")
