"""The processes of a chaos run (scripts/chaos): a kv-monitor and K kv-servers, each
server with a data directory of its own in the run's work directory, and the kvctl
queries the run makes. `Cluster` runs them on loopback, each server behind two
FaultProxy links; scripts/lib/chaos_netns.py's `NetnsCluster` runs each on a network
namespace of its own ("hosts" on a bridge) and shares the rest through `BaseCluster`.

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
_CLONE_NEWNET = 0x40000000


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


def enter_netns(name: str) -> None:
    """In a child before exec: moves it into the network namespace /run/netns/NAME (made
    by `ip netns add`)."""
    descriptor = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if _libc.setns(descriptor, _CLONE_NEWNET) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"setns into {name}: {os.strerror(error)}")
    finally:
        os.close(descriptor)


class Processes:
    """Every child process of the run, so that cleanup can end them all."""

    def __init__(self) -> None:
        self.running: set[asyncio.subprocess.Process] = set()

    async def spawn(self, argv: list[str], netns: str | None = None, **kwargs) -> asyncio.subprocess.Process:
        """Starts `argv` in a session of its own, dying with the run, in the network
        namespace `netns` when one is named."""

        def prepare() -> None:
            die_with_parent()
            if netns is not None:
                enter_netns(netns)

        process = await asyncio.create_subprocess_exec(
            *argv, stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=prepare, **kwargs
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

    def __init__(self, name: str, argv: list[str], log_path: str, processes: Processes, netns: str | None = None):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.processes = processes
        self.netns = netns
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self) -> None:
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"==== chaos: start #{self.starts}: {' '.join(self.argv)}\n".encode())
            log.flush()
            self.process = await self.processes.spawn(self.argv, netns=self.netns, stdout=log, stderr=log)

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
    """A kv-server: `advertised` is the address clients and the primary's forwards reach
    it at. On loopback that is its `front` proxy, and its pings leave through its
    `to_monitor` proxy; in network namespaces both are None and `host` names its host."""

    def __init__(
        self,
        number: int,
        listen: str,
        daemon: Daemon,
        front: FaultProxy | None = None,
        to_monitor: FaultProxy | None = None,
        host: str | None = None,
    ):
        self.number = number
        self.listen = listen
        self.daemon = daemon
        self.front = front
        self.to_monitor = to_monitor
        self.host = host

    @property
    def name(self) -> str:
        return self.daemon.name

    @property
    def advertised(self) -> str:
        return self.front.address if self.front is not None else self.listen


class BaseCluster:
    """What every cluster of a chaos run has: the secret, the monitor and the servers as
    daemons, their data directories, and kvctl run from `control_netns` (None: here)."""

    control_netns: str | None = None

    def __init__(self, bin_dir: str, work_dir: str, fsync: str):
        self.bin_dir = bin_dir
        self.work_dir = work_dir
        self.fsync = fsync
        self.processes = Processes()
        self.state_dir = os.path.join(work_dir, "monitor-state")
        os.makedirs(self.state_dir, exist_ok=True)
        # Authentication on, with a secret of the run's own: every reconnection after a
        # fault goes through the challenge-response, and no secret from the environment
        # ($KV_SECRET_FILE, /etc/kvservice/secret, a systemd credential) can interfere.
        self.secret_file = os.path.join(work_dir, "secret")
        descriptor = os.open(self.secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as secret:
            secret.write(os.urandom(24).hex() + "\n")
        self.monitor_address = ""
        self.monitor: Daemon | None = None
        self.servers: list[Server] = []

    def binary(self, name: str) -> str:
        return os.path.join(self.bin_dir, name)

    def data_dir(self, server: Server) -> str:
        """The server's data directory (kv-server creates it, mode 0700)."""
        return os.path.join(self.work_dir, f"{server.name}-data")

    def monitor_argv(self) -> list[str]:
        return [
            self.binary("kv-monitor"),
            "--listen", self.monitor_address,
            "--state-dir", self.state_dir,
            "--secret-file", self.secret_file,
        ]  # fmt: skip

    def server_argv(self, server: Server, monitor: str) -> list[str]:
        return [
            self.binary("kv-server"),
            "--listen", server.listen,
            "--advertise", server.advertised,
            "--monitor", monitor,
            "--secret-file", self.secret_file,
            "--data-dir", self.data_dir(server),
            "--fsync", self.fsync,
        ]  # fmt: skip

    async def start_daemons(self) -> None:
        assert self.monitor is not None
        await self.monitor.start()
        for server in self.servers:
            await server.daemon.start()

    async def stop(self) -> None:
        self.processes.kill_all()
        await self.processes.wait_all()

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
            netns=self.control_netns,
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
            if server.advertised == advertised:
                return server
        return None

    async def wait_ready(self, timeout: float) -> bool:
        """An acknowledged view with a live primary and a live backup."""
        code, _ = await self.kvctl("wait", "--ready", "--backup", timeout=timeout)
        return code == 0


class Cluster(BaseCluster):
    """The daemons on loopback, every server behind two FaultProxy links."""

    def __init__(self, bin_dir: str, work_dir: str, server_count: int, rng: random.Random, fsync: str = "always"):
        super().__init__(bin_dir, work_dir, fsync)
        # Ports differ from run to run even with one seed, so runs side by side do not collide.
        ports, taken = random.Random(), set()
        self.monitor_address = f"127.0.0.1:{free_port(ports, taken)}"
        self.monitor = Daemon("monitor", self.monitor_argv(), os.path.join(work_dir, "monitor.log"), self.processes)
        monitor_host, monitor_port = self.monitor_address.rsplit(":", 1)
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

    @property
    def proxies(self) -> list[FaultProxy]:
        return [proxy for server in self.servers for proxy in (server.front, server.to_monitor)]

    def describe(self) -> str:
        return f"monitor {self.monitor_address}; " + "; ".join(
            f"{s.name} listens {s.listen}, advertises {s.front.address}, pings via {s.to_monitor.address}"
            for s in self.servers
        )

    def links_line(self) -> str:
        proxies = self.proxies
        return (
            f"  links: {sum(p.counters['connections'] for p in proxies)} connections proxied, "
            f"{sum(p.counters['delayed'] for p in proxies)} chunks delayed, "
            f"{sum(p.counters['reset'] for p in proxies)} connections reset"
        )

    async def start(self) -> None:
        for proxy in self.proxies:
            await proxy.start()
        for server in self.servers:
            server.daemon.argv = self.server_argv(server, server.to_monitor.address)
        await self.start_daemons()

    async def stop(self) -> None:
        await super().stop()
        for proxy in self.proxies:
            await proxy.close()

    async def heal_all(self) -> None:
        for proxy in self.proxies:
            proxy.heal()
