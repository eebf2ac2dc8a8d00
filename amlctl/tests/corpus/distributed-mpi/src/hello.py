"""Reads its rank as mpi4py-free Horovod/DeepSpeed launchers do: from the OMPI_ variables."""

import os
import sys
from pathlib import Path

rank = os.environ["OMPI_COMM_WORLD_RANK"]
size = os.environ["OMPI_COMM_WORLD_SIZE"]
local = os.environ["OMPI_COMM_WORLD_LOCAL_RANK"]
print(f"rank {rank} of {size} (local {local})")
(Path(sys.argv[1]) / f"rank-{rank}.txt").write_text(f"{rank} {size} {local}")
