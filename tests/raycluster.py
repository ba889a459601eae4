"""A local Ray cluster for tests and benchmarks: a head with a few CPUs on the loopback, in a temp folder.

Ray talks over the machine's primary interface even when told 127.0.0.1: start it only inside a network namespace
of its own (`scripts/test` runs the suite in one), where the loopback is the only interface.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile

RAY = os.path.join(os.path.dirname(sys.executable), "ray")


def interfaces() -> list[str]:
    """The network interfaces of this process's network namespace."""
    with open("/proc/net/dev", encoding="ascii") as f:
        return [line.split(":")[0].strip() for line in f.readlines()[2:]]


def isolated() -> bool:
    return interfaces() == ["lo"]


class RayCluster:
    """`ray start --head` with `cpus` CPUs and no GPU, and `worker_cpus` > 0: a second node (a worker machine, here on
    the same one) joined to it; `address` is the head's host:port; `close()` stops both."""

    def __init__(self, cpus: int = 2, worker_cpus: int = 0):
        if not isolated():
            raise RuntimeError("Ray runs here only in a network namespace of its own (it would talk over the "
                               f"machine's network, here {interfaces()}): run the tests through scripts/test")
        self.temp = tempfile.mkdtemp(prefix="lcray", dir="/tmp")  # short: Ray's unix sockets live in it
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
        subprocess.run([RAY, "start", "--head", f"--port={port}", f"--num-cpus={cpus}", "--num-gpus=0",
                        "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={self.temp}",
                        "--node-ip-address=127.0.0.1"], check=True, env=self.env, capture_output=True, timeout=120)
        self.address = f"127.0.0.1:{port}"
        if worker_cpus:
            subprocess.run([RAY, "start", f"--address={self.address}", f"--num-cpus={worker_cpus}", "--num-gpus=0",
                            "--node-ip-address=127.0.0.1", "--disable-usage-stats"], check=True, env=self.env,
                           capture_output=True, timeout=120)

    def close(self) -> None:
        subprocess.run([RAY, "stop", "--force"], env=self.env, capture_output=True, timeout=120)
        shutil.rmtree(self.temp, ignore_errors=True)
