"""Prints what torch.distributed's env:// rendezvous reads; each rank writes one file."""

import json
import os
import sys
from pathlib import Path

names = ["RANK", "LOCAL_RANK", "WORLD_SIZE", "NODE_RANK", "MASTER_ADDR", "MASTER_PORT"]
seen = {name: os.environ.get(name) for name in names}
print(json.dumps(seen))
(Path(sys.argv[1]) / f"rank-{seen['RANK']}.json").write_text(json.dumps(seen))
Path("outputs").joinpath(f"rank-{seen['RANK']}.txt").write_text("ok")
