import sys
from pathlib import Path

import six

(Path(sys.argv[1]) / "six.txt").write_text(six.__version__)
print("six", six.__version__)
