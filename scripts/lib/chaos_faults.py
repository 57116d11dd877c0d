"""The faults of a chaos run (scripts/chaos) and their seeded schedule.

One fault at a time: each is injected, ends (the process restarted, continued, the link
healed) and the service must recover before the next. Every random choice of a fault
(its kind, how long, which link, how lossy) comes from the schedule's generator in a
fixed order, so a seed gives the same sequence of faults again; which server is primary
when a fault strikes depends on timing, and so does the history.
"""

import asyncio
import random

from chaos_cluster import Cluster

# Kind -> weight. Faults on the primary are the ones that exercise promotion, so they
# come more often.
FAULT_WEIGHTS = {
    "kill-primary": 2,
    "kill-backup": 1,
    "pause-primary": 2,
    "kill-monitor": 1,
    "kill-all": 1,
    "partition-primary": 2,
    "lossy-link": 2,
}

FAULT_DESCRIPTIONS = {
    "kill-primary": "kill -9 of the primary, restarted with its data directory 0.2-1.5 s later",
    "kill-backup": "kill -9 of the backup, restarted with its data directory 0.2-1.5 s later",
    "pause-primary": "SIGSTOP of the primary, SIGCONT 0.3-2 s later",
    "kill-monitor": "kill -9 of the monitor, restarted with its state directory 0.2-2 s later",
    "kill-all": "kill -9 of every server and the monitor at once under the clients' load, all restarted 0.2-1.5 s "
    "later (only the servers' data directories keep the acknowledged writes)",
    "partition-primary": "the primary cut off from the monitor only (still reaching backup and clients) for 0.5-3 s",
    "lossy-link": "one link (clients->primary, primary->backup, or a server->monitor) delays and resets "
    "connections at random for 2-5 s",
}

LOSSY_LINKS = ["clients->primary", "primary->backup", "primary->monitor", "backup->monitor"]


class FaultSchedule:
    def __init__(self, seed: int):
        self.rng = random.Random(f"kvservice-chaos-faults-{seed}")

    def next_kind(self) -> str:
        kinds = list(FAULT_WEIGHTS)
        return self.rng.choices(kinds, weights=[FAULT_WEIGHTS[kind] for kind in kinds])[0]

    def uniform(self, low: float, high: float) -> float:
        return self.rng.uniform(low, high)

    def choice(self, options: list[str]) -> str:
        return self.rng.choice(options)


class FaultSkipped(Exception):
    """The fault could not be aimed (no view, or no primary or backup to aim at)."""


class FaultInjector:
    def __init__(self, cluster: Cluster, schedule: FaultSchedule):
        self.cluster = cluster
        self.schedule = schedule

    async def inject(self, kind: str) -> str:
        """Injects one fault of `kind` and returns once it is over, with what was done."""
        # Drawn before looking at the view, so the schedule does not depend on it.
        first = self.schedule.uniform(0, 1)
        link = self.schedule.choice(LOSSY_LINKS)
        second = self.schedule.uniform(0, 1)
        third = self.schedule.uniform(0, 1)

        view = await self.cluster.view()
        if view is None:
            raise FaultSkipped("the monitor did not answer kvctl view")
        primary = self.cluster.server_at(view.get("primary", ""))
        backup = self.cluster.server_at(view.get("backup", ""))
        if primary is None or backup is None:
            raise FaultSkipped(f"view {view.get('viewnum')} lacks a primary or a backup")
        where = f"view {view['viewnum']}: primary {primary.name}, backup {backup.name}"

        if kind in ("kill-primary", "kill-backup"):
            victim = primary if kind == "kill-primary" else backup
            down = 0.2 + first * 1.3
            await victim.daemon.kill()
            await asyncio.sleep(down)
            await victim.daemon.start()
            return f"kill -9 {victim.name}, restarted after {down:.1f} s ({where})"
        if kind == "pause-primary":
            paused = 0.3 + first * 1.7
            primary.daemon.pause()
            try:
                await asyncio.sleep(paused)
            finally:
                primary.daemon.resume()
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
            await self.cluster.monitor.start()
            for server in self.cluster.servers:
                await server.daemon.start()
            servers = len(self.cluster.servers)
            return f"kill -9 monitor and {servers} servers at once, all restarted after {down:.1f} s ({where})"
        if kind == "kill-monitor":
            down = 0.2 + first * 1.8
            await self.cluster.monitor.kill()
            await asyncio.sleep(down)
            await self.cluster.monitor.start()
            return f"kill -9 monitor, restarted after {down:.1f} s ({where})"
        if kind == "partition-primary":
            cut = 0.5 + first * 2.5
            primary.to_monitor.cut()
            try:
                await asyncio.sleep(cut)
            finally:
                primary.to_monitor.heal()
            return f"{primary.name} cut off from the monitor for {cut:.1f} s ({where})"
        if kind == "lossy-link":
            proxy = {
                "clients->primary": primary.front,
                "primary->backup": backup.front,
                "primary->monitor": primary.to_monitor,
                "backup->monitor": backup.to_monitor,
            }[link]
            lasting = 2 + first * 3
            delay_probability = 0.05 + second * 0.25
            reset_probability = 0.005 + third * 0.045
            before = dict(proxy.counters)
            proxy.make_lossy(delay_probability, reset_probability)
            try:
                await asyncio.sleep(lasting)
            finally:
                proxy.heal()
            delayed = proxy.counters["delayed"] - before["delayed"]
            reset = proxy.counters["reset"] - before["reset"]
            return (
                f"lossy {link} ({proxy.name}) for {lasting:.1f} s: {delayed} chunks delayed, "
                f"{reset} connections reset (p={delay_probability:.2f}/{reset_probability:.3f}) ({where})"
            )
        raise ValueError(f"unknown fault {kind}")
