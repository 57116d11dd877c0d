"""scripts/bench --control-plane: how long the highly available control plane takes to get
over the loss of its leading monitor (docs/DESIGN.md §2.10; docs/PERFORMANCE.md).

A 3-member etcd cluster (Debian's etcd-server), three kv-monitors sharing one view in it
and three kv-servers, all with their default settings (leader lease 3 s, ping interval
100 ms), on free loopback ports. Each run:

  1. kill -9 of the leading monitor; at once, a new kvctl process puts a key (process
     start included): the time until it succeeds;
  2. the time from the kill until another monitor says it leads (`kvctl monitors`);
  3. then kill -9 of the primary: the time from that kill until a new kvctl process's put
     succeeds, the failover having gone through the new leader.

The killed processes are restarted and the next run waits for a synchronised view and a
leader. Figures: medians (and all values) over the runs.
"""

import json
import os
import random
import shutil
import statistics
import subprocess
import threading
import time

from bench_processes import Children, wait_until
from chaos_cluster import free_port


class ControlPlaneFailed(Exception):
    pass


class ControlPlane:
    def __init__(self, bin_dir: str, work: str, children: Children):
        self.bin_dir, self.work, self.children = bin_dir, work, children
        rng, taken = random.Random(), set()
        port = lambda: free_port(rng, taken)  # noqa: E731
        self.etcd_ports = [(port(), port()) for _ in range(3)]  # (client, peer)
        self.monitors = [f"127.0.0.1:{port()}" for _ in range(3)]
        self.servers = [f"127.0.0.1:{port()}" for _ in range(3)]
        self.monitor_process: dict[str, subprocess.Popen] = {}
        self.server_process: dict[str, subprocess.Popen] = {}
        self.secret = os.path.join(work, "secret")
        os.close(os.open(self.secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))

    @property
    def endpoints(self) -> str:
        return ",".join(f"http://127.0.0.1:{client}" for client, _ in self.etcd_ports)

    def start(self) -> None:
        cluster = ",".join(f"e{i}=http://127.0.0.1:{peer}" for i, (_, peer) in enumerate(self.etcd_ports))
        for i, (client, peer) in enumerate(self.etcd_ports):
            self.children.spawn(
                ["etcd", "--name", f"e{i}", "--data-dir", os.path.join(self.work, f"etcd{i}"),
                 "--listen-client-urls", f"http://127.0.0.1:{client}",
                 "--advertise-client-urls", f"http://127.0.0.1:{client}",
                 "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                 "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                 "--initial-cluster", cluster, "--initial-cluster-token", f"bench-{os.getpid()}",
                 "--initial-cluster-state", "new", "--logger", "zap", "--log-level", "error"],
                os.path.join(self.work, f"etcd{i}.log"))  # fmt: skip
        for address in self.monitors:
            self.start_monitor(address)
        self.wait_for_leader(lambda leader: True)
        for address in self.servers:
            self.start_server(address)
        self.wait_for_synchronised()

    def start_monitor(self, address: str) -> None:
        self.monitor_process[address] = self.children.spawn(
            [os.path.join(self.bin_dir, "kv-monitor"), "--listen", address, "--etcd-endpoints", self.endpoints,
             "--cluster", "bench", "--secret-file", self.secret, "--log-level", "notice"],
            os.path.join(self.work, f"monitor-{address.rsplit(':', 1)[1]}.log"))  # fmt: skip

    def start_server(self, address: str) -> None:
        self.server_process[address] = self.children.spawn(
            [os.path.join(self.bin_dir, "kv-server"), "--listen", address, "--monitor", ",".join(self.monitors),
             "--secret-file", self.secret, "--log-level", "notice"],
            os.path.join(self.work, f"server-{address.rsplit(':', 1)[1]}.log"))  # fmt: skip

    @staticmethod
    def kill(process: subprocess.Popen) -> None:
        process.kill()
        process.wait(timeout=10)

    def kvctl(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(
            [os.path.join(self.bin_dir, "kvctl"), "--monitor", ",".join(self.monitors), *args],
            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
            env=dict(os.environ, KV_SECRET_FILE=self.secret))  # fmt: skip

    def leader(self) -> str | None:
        result = self.kvctl("monitors", "--json", "--timeout", "1", timeout=10)
        try:
            listed = json.loads(result.stdout)
        except json.JSONDecodeError:
            return None
        leaders = [entry["address"] for entry in listed if entry.get("leader")]
        return leaders[0] if len(leaders) == 1 else None

    def wait_for_leader(self, accept, timeout: float = 60) -> str:
        found: list[str] = []

        def check() -> bool:
            leader = self.leader()
            if leader is not None and accept(leader):
                found.append(leader)
                return True
            return False

        wait_until(check, timeout, "a leading monitor", interval=0.05)
        return found[-1]

    def view(self) -> dict:
        result = self.kvctl("view", "--json", "--timeout", "2", timeout=10)
        try:
            return json.loads(result.stdout) if result.returncode == 0 else {}
        except json.JSONDecodeError:
            return {}

    def wait_for_synchronised(self, accept=lambda view: True, timeout: float = 60) -> dict:
        found: list[dict] = []

        def check() -> bool:
            view = self.view()
            if view.get("primary") and view.get("backup") and view.get("acknowledged", view.get("acked")) \
                    and accept(view):  # fmt: skip
                found.append(view)
                return True
            return False

        wait_until(check, timeout, "an acknowledged view with a primary and a backup", interval=0.05)
        return found[-1]


def measure(bin_dir: str, work: str, runs: int) -> dict:
    """The figures of `runs` runs (module docstring)."""
    if shutil.which("etcd") is None:
        raise ControlPlaneFailed("etcd not found (apt-get install etcd-server)")
    figures: dict = {"put_after_monitor_kill_s": [], "new_leader_s": [], "put_after_primary_kill_s": []}
    with Children() as children:
        plane = ControlPlane(bin_dir, work, children)
        plane.start()
        print(f"control plane: kill -9 of the leading monitor, then of the primary, {runs} times ...", flush=True)
        for run in range(runs):
            leader = plane.wait_for_leader(lambda leader: True)
            view = plane.wait_for_synchronised()
            time.sleep(0.3)  # both servers pinged in this view: a failover may go at once
            put: dict = {}

            def timed_put(name: str, started: float) -> None:
                result = plane.kvctl("put", "--timeout", "30", f"bench:cp:{run}:{name}", "v", timeout=40)
                put[name] = (result.returncode, time.monotonic() - started, result.stderr.strip())

            plane.kill(plane.monitor_process.pop(leader))
            killed = time.monotonic()
            putter = threading.Thread(target=timed_put, args=("monitor", killed))
            putter.start()
            plane.wait_for_leader(lambda new: new != leader)
            new_leader = time.monotonic() - killed
            putter.join()
            status, after_monitor, error = put["monitor"]
            if status != 0:
                raise ControlPlaneFailed(f"no put within 30 s of killing the leading monitor: {error}")

            primary = view["primary"]
            plane.kill(plane.server_process.pop(primary))
            killed = time.monotonic()
            timed_put("primary", killed)
            status, after_primary, error = put["primary"]
            if status != 0:
                raise ControlPlaneFailed(f"no put within 30 s of killing the primary: {error}")

            figures["put_after_monitor_kill_s"].append(after_monitor)
            figures["new_leader_s"].append(new_leader)
            figures["put_after_primary_kill_s"].append(after_primary)
            print(f"  run {run + 1}: put after {after_monitor * 1000:.0f} ms, new leader after "
                  f"{new_leader * 1000:.0f} ms; primary killed: put after {after_primary * 1000:.0f} ms",
                  flush=True)  # fmt: skip
            plane.start_monitor(leader)
            plane.start_server(primary)
            # The restarted server is idle (the third server became the backup).
            plane.wait_for_synchronised()
    for name in list(figures):
        figures[name + "_median"] = statistics.median(figures[name])
    return figures


def report(figures: dict) -> list[str]:
    def row(title: str, name: str) -> str:
        values = ", ".join(f"{value:.2f}" for value in figures[name])
        return f"{title:<48} {figures[name + '_median']:6.2f} s   ({values})"

    return [
        "control plane (3 monitors, 3-member etcd, default settings), medians:",
        row("kill -9 of the leader -> a new kvctl put ok", "put_after_monitor_kill_s"),
        row("kill -9 of the leader -> another monitor leads", "new_leader_s"),
        row("then kill -9 of the primary -> a new kvctl put ok", "put_after_primary_kill_s"),
        f"target: <= 5 s each ({'met' if all(figures[n + '_median'] <= 5 for n in ('put_after_monitor_kill_s', 'new_leader_s', 'put_after_primary_kill_s')) else 'MISSED'})",  # noqa: E501
    ]
