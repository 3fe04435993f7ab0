"""A live ``cleanroom serve`` on a free loopback port, in a subprocess, for the client tests:
tokens for every party, and the canary data uploaded through the Python client."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cleanroom.store import Store
from tests.canary import CanaryData
from tests.conftest import COLLAB, POLICIES

CLI = [sys.executable, "-m", "cleanroom.cli"]
PARTIES = ("acme", "streamco", "reviewer")


@dataclass(frozen=True)
class Live:
    url: str
    data_dir: Path
    tokens: dict[str, str]
    files: dict[str, Path]

    def env(self, party: str) -> dict[str, str]:
        """The environment of a client command run by ``party``."""
        import os

        return {**os.environ, "CLEANROOM_URL": self.url, "CLEANROOM_TOKEN": self.tokens[party],
                "COLUMNS": "200"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(data_dir: Path, *, policies: Path = POLICIES) -> Iterator[str]:
    """Run ``cleanroom serve`` until the generator is closed; yields its address."""
    port = free_port()
    proc = subprocess.Popen([*CLI, "serve", "--data-dir", str(data_dir), "--policies",
                             str(policies), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert f"http://127.0.0.1:{port}" in line, (line, proc.stderr.read() if proc.poll() else "")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def start(root: Path, canary: CanaryData) -> Iterator[Live]:
    data_dir = root / "data"
    store = Store(data_dir)
    tokens = {p: store.issue_token(COLLAB, p) for p in PARTIES}
    tokens["globex"] = store.issue_token("other-collab", "globex")
    files = canary.write(root / "files")
    for url in serve(data_dir):
        yield Live(url, data_dir, tokens, files)
