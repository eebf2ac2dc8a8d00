import argparse
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--number_in")
parser.add_argument("--add", type=int)
parser.add_argument("--number_out")
args = parser.parse_args()
number = int((Path(args.number_in) / "n.txt").read_text()) if args.number_in else 0
(Path(args.number_out) / "n.txt").write_text(str(number + args.add))
print(f"{number} + {args.add} = {number + args.add}")
