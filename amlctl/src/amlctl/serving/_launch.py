"""Start Azure ML's inference server (azmlinfsrv) bound to loopback only.

``python -m amlctl.serving._launch <azmlinfsrv arguments>`` is ``azmlinfsrv`` itself (same
argument parsing, environment, gunicorn workers and Flask app) with one change: the server
binds 127.0.0.1 instead of its hard-coded 0.0.0.0, so a laptop's model is not exposed to
its network.
"""

from __future__ import annotations

import sys

LOOPBACK = "127.0.0.1"


def main() -> None:
    from azureml_inference_server_http import amlserver

    amlserver.DEFAULT_HOST = LOOPBACK
    sys.argv[0] = "azmlinfsrv"
    amlserver.run()


if __name__ == "__main__":
    main()
