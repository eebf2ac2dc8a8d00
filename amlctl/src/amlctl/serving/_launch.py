"""Start Azure ML's inference server (azmlinfsrv) bound to loopback only.

``python -m amlctl.serving._launch <azmlinfsrv arguments>`` is ``azmlinfsrv`` itself (same
argument parsing, environment, gunicorn workers and Flask app) with two changes: the server
binds 127.0.0.1 instead of its hard-coded 0.0.0.0, so a laptop's model is not exposed to
its network; and gunicorn (25.1 and newer) opens no control socket, which it would put in
the user's home folder (``~/.gunicorn/gunicorn.ctl``), shared by every server started there.
"""

from __future__ import annotations

import os
import sys

LOOPBACK = "127.0.0.1"
NO_CONTROL_SOCKET = "--no-control-socket"


def main() -> None:
    from azureml_inference_server_http import amlserver
    from gunicorn.config import KNOWN_SETTINGS

    amlserver.DEFAULT_HOST = LOOPBACK
    if any(NO_CONTROL_SOCKET in setting.cli for setting in KNOWN_SETTINGS if setting.cli):
        extra = os.environ.get("GUNICORN_CMD_ARGS", "")
        os.environ["GUNICORN_CMD_ARGS"] = f"{extra} {NO_CONTROL_SOCKET}".strip()
    sys.argv[0] = "azmlinfsrv"
    amlserver.run()


if __name__ == "__main__":
    main()
