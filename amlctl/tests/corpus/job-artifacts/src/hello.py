"""Writes to ./outputs and ./logs, as Azure ML examples do; Azure ML keeps both as artifacts."""

import os
from pathlib import Path

Path("outputs").mkdir(exist_ok=True)  # Azure ML creates it; scripts often make sure anyway
Path("outputs/helloworld.txt").write_text(f"hello from {os.getcwd() != ''}\n")
Path("logs/progress.log").write_text("step 1 of 1\n")
Path("scratch.txt").write_text("a file in the working directory, not an artifact\n")
print("wrote outputs/helloworld.txt")
