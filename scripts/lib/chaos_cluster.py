"""The processes of a chaos run (scripts/chaos): a kv-monitor and K kv-servers on
loopback, each server behind two FaultProxy links and with a data directory of its own
in the run's work directory, and the kvctl queries the run makes.

Every process is started in its own session (a Ctrl-C in the terminal reaches only
scripts/chaos, which then stops everything itself) and dies with scripts/chaos even if
that is killed outright (PR_SET_PDEATHSIG).
"""

import asyncio
import ctypes
import json
import os
import random
import signal
import socket
import subprocess

from chaos_proxy import FaultProxy

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In a child before exec: SIGKILL it when the process that started it dies."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port(rng: random.Random, taken: set[int]) -> int:
    """A loopback port for a daemon, free now. A daemon restarted after kill -9 takes the
    same port again, so it cannot be port 0; and it is below the kernel's ephemeral range
    (32768 and up by default), where an outgoing connection made while the daemon is
    down could take it."""
    low, high = 20000, 32767
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as ports:
            high = min(high, int(ports.read().split()[0]) - 1)
    except (OSError, ValueError, IndexError):
        pass
    for _ in range(200):
        port = rng.randint(low, max(low, high))
        if port in taken:
            continue
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
                taken.add(port)
                return port
            except OSError:
                continue
    raise RuntimeError("no free loopback port below the ephemeral range")


class Processes:
    """Every child process of the run, so that cleanup can end them all."""

    def __init__(self) -> None:
        self.running: set[asyncio.subprocess.Process] = set()

    async def spawn(self, argv: list[str], **kwargs) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=die_with_parent, **kwargs
        )
        self.running.add(process)
        return process

    async def reap(self, process: asyncio.subprocess.Process) -> int:
        code = await process.wait()
        self.running.discard(process)
        return code

    def kill_all(self) -> None:
        for process in list(self.running):
            if process.returncode is None:
                try:
                    # SIGKILL works on a stopped process too (SIGSTOP fault).
                    os.kill(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    async def wait_all(self) -> None:
        for process in list(self.running):
            try:
                await asyncio.wait_for(process.wait(), timeout=5)
            except asyncio.TimeoutError:
                pass
            self.running.discard(process)


class Daemon:
    """One kv-monitor or kv-server: started, killed, stopped and continued by the run.
    Its standard error goes to one log file across restarts."""

    def __init__(self, name: str, argv: list[str], log_path: str, processes: Processes):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.processes = processes
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self) -> None:
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"==== chaos: start #{self.starts}: {' '.join(self.argv)}\n".encode())
            log.flush()
            self.process = await self.processes.spawn(self.argv, stdout=log, stderr=log)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def exited(self) -> bool:
        return self.process is None or self.process.returncode is not None

    def signal_kill(self) -> None:
        """Sends SIGKILL without waiting for the process to end (`kill` reaps it)."""
        if self.process is not None and self.process.returncode is None:
            try:
                self.process.kill()
            except ProcessLookupError:
                pass

    async def kill(self) -> None:
        self.signal_kill()
        if self.process is not None:
            await self.processes.reap(self.process)

    def pause(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)


class Server:
    """A kv-server with its two links: `front` (the address it advertises, so clients'
    requests and the primary's forwards come through it) and `to_monitor` (its pings)."""

    def __init__(self, number: int, listen: str, daemon: Daemon, front: FaultProxy, to_monitor: FaultProxy):
        self.number = number
        self.listen = listen
        self.daemon = daemon
        self.front = front
        self.to_monitor = to_monitor

    @property
    def name(self) -> str:
        return self.daemon.name


class Cluster:
    def __init__(self, bin_dir: str, work_dir: str, server_count: int, rng: random.Random, fsync: str = "always"):
        self.bin_dir = bin_dir
        self.work_dir = work_dir
        self.fsync = fsync
        self.processes = Processes()
        # Ports differ from run to run even with one seed, so runs side by side do not collide.
        ports, taken = random.Random(), set()
        self.monitor_address = f"127.0.0.1:{free_port(ports, taken)}"
        state_dir = os.path.join(work_dir, "monitor-state")
        os.makedirs(state_dir, exist_ok=True)
        # Authentication on, with a secret of the run's own: every reconnection after a
        # fault goes through the challenge-response, and no secret from the environment
        # ($KV_SECRET_FILE, /etc/kvservice/secret, a systemd credential) can interfere.
        self.secret_file = os.path.join(work_dir, "secret")
        descriptor = os.open(self.secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as secret:
            secret.write(os.urandom(24).hex() + "\n")
        self.monitor = Daemon(
            "monitor",
            [
                self.binary("kv-monitor"),
                "--listen", self.monitor_address,
                "--state-dir", state_dir,
                "--secret-file", self.secret_file,
            ],  # fmt: skip
            os.path.join(work_dir, "monitor.log"),
            self.processes,
        )
        monitor_host, monitor_port = self.monitor_address.rsplit(":", 1)
        self.servers: list[Server] = []
        for number in range(1, server_count + 1):
            listen = ("127.0.0.1", free_port(ports, taken))
            self.servers.append(
                Server(
                    number,
                    f"{listen[0]}:{listen[1]}",
                    Daemon(f"server{number}", [], os.path.join(work_dir, f"server{number}.log"), self.processes),
                    FaultProxy(f"server{number}-front", listen, random.Random(rng.random())),
                    FaultProxy(
                        f"server{number}-monitor", (monitor_host, int(monitor_port)), random.Random(rng.random())
                    ),
                )
            )

    def binary(self, name: str) -> str:
        return os.path.join(self.bin_dir, name)

    @property
    def proxies(self) -> list[FaultProxy]:
        return [proxy for server in self.servers for proxy in (server.front, server.to_monitor)]

    def data_dir(self, server: Server) -> str:
        """The server's data directory (kv-server creates it, mode 0700)."""
        return os.path.join(self.work_dir, f"{server.name}-data")

    async def start(self) -> None:
        for proxy in self.proxies:
            await proxy.start()
        for server in self.servers:
            server.daemon.argv = [
                self.binary("kv-server"),
                "--listen", server.listen,
                "--advertise", server.front.address,
                "--monitor", server.to_monitor.address,
                "--secret-file", self.secret_file,
                "--data-dir", self.data_dir(server),
                "--fsync", self.fsync,
            ]  # fmt: skip
        await self.monitor.start()
        for server in self.servers:
            await server.daemon.start()

    async def stop(self) -> None:
        self.processes.kill_all()
        await self.processes.wait_all()
        for proxy in self.proxies:
            await proxy.close()

    def heal_all(self) -> None:
        for proxy in self.proxies:
            proxy.heal()

    def dead_daemons(self) -> list[str]:
        """Daemons that exited on their own (between faults, every daemon a fault killed
        has been started again), with their exit status."""
        daemons = [self.monitor] + [server.daemon for server in self.servers]
        return [
            f"{daemon.name} (exit status {daemon.process.returncode if daemon.process else '-'})"
            for daemon in daemons
            if daemon.exited()
        ]

    async def kvctl(self, *args: str, timeout: float = 10) -> tuple[int, str]:
        """Runs kvctl against the monitor; (exit status, standard output). kvctl's own
        --timeout bounds it; the outer timeout only guards against a hung process."""
        process = await self.processes.spawn(
            [
                self.binary("kvctl"),
                "--monitor", self.monitor_address,
                "--secret-file", self.secret_file,
                "--timeout", str(timeout),
                *args,
            ],  # fmt: skip
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        try:
            out, _ = await asyncio.wait_for(process.communicate(), timeout=timeout + 10)
        except asyncio.TimeoutError:
            process.kill()
            await self.processes.reap(process)
            return 124, ""
        self.processes.running.discard(process)
        return process.returncode, out.decode(errors="replace")

    async def view(self) -> dict | None:
        code, out = await self.kvctl("view", "--json", timeout=3)
        if code != 0:
            return None
        try:
            return json.loads(out)
        except ValueError:
            return None

    def server_at(self, advertised: str) -> Server | None:
        for server in self.servers:
            if server.front.address == advertised:
                return server
        return None

    async def wait_ready(self, timeout: float) -> bool:
        """An acknowledged view with a live primary and a live backup."""
        code, _ = await self.kvctl("wait", "--ready", "--backup", timeout=timeout)
        return code == 0
