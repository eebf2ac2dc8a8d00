"""A parallel entry script over files: init() once per worker, run() per mini-batch of paths."""

import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)
model = None


def init():
    global model
    model = {"loaded_by": os.getpid()}
    logger.debug("model loaded")


def run(mini_batch):
    rows = []
    for path in mini_batch:
        words = len(Path(path).read_text().split())
        rows.append(f"{Path(path).name},{words},{model['loaded_by']}")
    return rows
