"""Reads TF_CONFIG as tf.distribute.cluster_resolver.TFConfigClusterResolver does."""

import json
import os
import sys
from pathlib import Path

config = json.loads(os.environ["TF_CONFIG"])
task = config["task"]
name = f"{task['type']}-{task['index']}"
print(name, config["cluster"])
(Path(sys.argv[1]) / f"{name}.json").write_text(json.dumps(config))
