"""The faults of a chaos run (scripts/chaos) and their seeded schedule.

One fault at a time: each is injected, ends (the process restarted, continued, the link
healed) and the service must recover before the next. Every random choice of a fault
(its kind, how long, which link, how lossy) comes from the schedule's generator in a
fixed order, so a seed gives the same sequence of faults again; which server is primary
when a fault strikes depends on timing, and so does the history.

Process faults are the same in every mode; network faults belong to the mode: on
loopback `ProxyFaults` (the TCP proxies of chaos_proxy.py), in network namespaces
chaos_netns.py's `KernelFaults` (nftables rules, and tc qdiscs: netem where the kernel
has it, else tbf and htb).
"""

import asyncio
import random
from dataclasses import dataclass

from chaos_cluster import BaseCluster, Cluster, Server

# Kind -> weight. Faults on the primary are the ones that exercise promotion, so they
# come more often.
PROCESS_FAULT_WEIGHTS = {
    "kill-primary": 2,
    "kill-backup": 1,
    "pause-primary": 2,
    "kill-monitor": 1,
    "kill-all": 1,
}

PROCESS_FAULT_DESCRIPTIONS = {
    "kill-primary": "kill -9 of the primary, restarted with its data directory 0.2-1.5 s later",
    "kill-backup": "kill -9 of the backup, restarted with its data directory 0.2-1.5 s later",
    "pause-primary": "SIGSTOP of the primary, SIGCONT 0.3-2 s later",
    "kill-monitor": "kill -9 of the monitor, restarted with its state directory 0.2-2 s later",
    "kill-all": "kill -9 of every server and the monitor at once under the clients' load, all restarted 0.2-1.5 s "
    "later (only the servers' data directories keep the acknowledged writes)",
}

# The links a network fault picks from, named by role at the time it strikes.
LINKS = ["clients->primary", "primary->backup", "primary->monitor", "backup->monitor"]


@dataclass
class Aim:
    """Whom a fault strikes: the view's primary and backup when it began."""

    primary: Server
    backup: Server
    where: str


@dataclass
class Draws:
    """A fault's random choices, drawn before the view is looked at, so the schedule does
    not depend on it: three numbers in [0, 1) and a link of LINKS."""

    first: float
    link: str
    second: float
    third: float


class FaultSchedule:
    def __init__(self, seed: int, weights: dict[str, int]):
        self.rng = random.Random(f"kvservice-chaos-faults-{seed}")
        self.weights = weights

    def next_kind(self) -> str:
        kinds = list(self.weights)
        return self.rng.choices(kinds, weights=[self.weights[kind] for kind in kinds])[0]

    def uniform(self, low: float, high: float) -> float:
        return self.rng.uniform(low, high)

    def choice(self, options: list[str]) -> str:
        return self.rng.choice(options)

    def draws(self) -> Draws:
        first = self.uniform(0, 1)
        link = self.choice(LINKS)
        return Draws(first, link, self.uniform(0, 1), self.uniform(0, 1))


async def for_a_while(seconds: float, begin, end) -> None:
    """Calls `begin`, and `end` `seconds` later, however the wait ends."""
    begin()
    try:
        await asyncio.sleep(seconds)
    finally:
        end()


class FaultSkipped(Exception):
    """The fault could not be aimed (no view, or no primary or backup to aim at)."""


class ProxyFaults:
    """The network faults of the loopback mode, on the servers' proxies."""

    WEIGHTS = {"partition-primary": 2, "lossy-link": 2}
    DESCRIPTIONS = {
        "partition-primary": "the primary cut off from the monitor only (still reaching backup and clients) for "
        "0.5-3 s",
        "lossy-link": "one link (clients->primary, primary->backup, or a server->monitor) delays and resets "
        "connections at random for 2-5 s",
    }

    def __init__(self, cluster: Cluster):
        self.cluster = cluster

    async def inject(self, kind: str, aim: Aim, draws: Draws) -> str:
        primary, backup = aim.primary, aim.backup
        if kind == "partition-primary":
            cut = 0.5 + draws.first * 2.5
            await for_a_while(cut, primary.to_monitor.cut, primary.to_monitor.heal)
            return f"{primary.name} cut off from the monitor for {cut:.1f} s ({aim.where})"
        if kind == "lossy-link":
            proxy = {
                "clients->primary": primary.front,
                "primary->backup": backup.front,
                "primary->monitor": primary.to_monitor,
                "backup->monitor": backup.to_monitor,
            }[draws.link]
            lasting = 2 + draws.first * 3
            delay_probability = 0.05 + draws.second * 0.25
            reset_probability = 0.005 + draws.third * 0.045
            before = dict(proxy.counters)
            proxy.make_lossy(delay_probability, reset_probability)
            try:
                await asyncio.sleep(lasting)
            finally:
                proxy.heal()
            delayed = proxy.counters["delayed"] - before["delayed"]
            reset = proxy.counters["reset"] - before["reset"]
            return (
                f"lossy {draws.link} ({proxy.name}) for {lasting:.1f} s: {delayed} chunks delayed, "
                f"{reset} connections reset (p={delay_probability:.2f}/{reset_probability:.3f}) ({aim.where})"
            )
        raise ValueError(f"unknown fault {kind}")


class FaultInjector:
    def __init__(self, cluster: BaseCluster, schedule: FaultSchedule, network):
        self.cluster = cluster
        self.schedule = schedule
        self.network = network

    async def aim(self) -> Aim:
        view = await self.cluster.view()
        if view is None:
            raise FaultSkipped("the monitor did not answer kvctl view")
        primary = self.cluster.server_at(view.get("primary", ""))
        backup = self.cluster.server_at(view.get("backup", ""))
        if primary is None or backup is None:
            raise FaultSkipped(f"view {view.get('viewnum')} lacks a primary or a backup")
        return Aim(primary, backup, f"view {view['viewnum']}: primary {primary.name}, backup {backup.name}")

    async def inject(self, kind: str) -> str:
        """Injects one fault of `kind` and returns once it is over, with what was done."""
        draws = self.schedule.draws()
        aim = await self.aim()
        if kind in PROCESS_FAULT_WEIGHTS:
            return await self.process_fault(kind, aim, draws.first)
        return await self.network.inject(kind, aim, draws)

    async def process_fault(self, kind: str, aim: Aim, first: float) -> str:
        primary, backup, where = aim.primary, aim.backup, aim.where
        if kind in ("kill-primary", "kill-backup"):
            victim = primary if kind == "kill-primary" else backup
            down = 0.2 + first * 1.3
            await victim.daemon.kill()
            await asyncio.sleep(down)
            await victim.daemon.start()
            return f"kill -9 {victim.name}, restarted after {down:.1f} s ({where})"
        if kind == "pause-primary":
            paused = 0.3 + first * 1.7
            await for_a_while(paused, primary.daemon.pause, primary.daemon.resume)
            return f"SIGSTOP {primary.name} for {paused:.1f} s ({where})"
        if kind == "kill-all":
            down = 0.2 + first * 1.3
            daemons = [self.cluster.monitor] + [server.daemon for server in self.cluster.servers]
            # Every SIGKILL sent before any is waited for: no daemon outlives another by
            # more than the few microseconds between two kill(2) calls.
            for daemon in daemons:
                daemon.signal_kill()
            for daemon in daemons:
                await daemon.kill()
            await asyncio.sleep(down)
            await self.cluster.start_daemons()
            servers = len(self.cluster.servers)
            return f"kill -9 monitor and {servers} servers at once, all restarted after {down:.1f} s ({where})"
        if kind == "kill-monitor":
            down = 0.2 + first * 1.8
            await self.cluster.monitor.kill()
            await asyncio.sleep(down)
            await self.cluster.monitor.start()
            return f"kill -9 monitor, restarted after {down:.1f} s ({where})"
        raise ValueError(f"unknown fault {kind}")
