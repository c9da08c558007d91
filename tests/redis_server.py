"""A private redis-server on a free port for tests that stop, kill or restart Redis."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time

from tests.conftest import service_missing
from tests.livestream.servers import free_port


class PrivateRedis:
    """redis-server in its own folder. ``durable``: AOF fsynced on every write, so a hard
    kill loses nothing that was acknowledged; otherwise nothing is kept on disk."""

    def __init__(self, *, durable: bool = False) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            service_missing("redis-server")
        self.binary = str(binary)
        self.durable = durable
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="zx-redis-")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The server's URL without a database number."""
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir, "--save", ""]
        if self.durable:
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            args += ["--appendonly", "no"]
        self.proc = subprocess.Popen(
            [self.binary, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self, *, hard: bool = False) -> None:
        """Terminate (or, ``hard``, SIGKILL) the server."""
        if self.proc is not None:
            if hard:
                self.proc.send_signal(signal.SIGKILL)
            else:
                self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def remove(self) -> None:
        self.stop(hard=True)
        shutil.rmtree(self.dir, ignore_errors=True)
