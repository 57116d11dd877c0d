"""The real-network mode of a chaos run (scripts/chaos --netns): every daemon on a host
of its own, and network faults injected by the kernel.

Hosts are network namespaces, named `kvchaos-PID-HOST` after the run's process: one for
the monitor, one per server, one for the clients, each with an `eth0` on 10.77.0.0/24
whose veth peer is a port of the bridge `br0` in a further namespace, the switch
(`kvchaos-PID-switch`). Nothing is added to the root namespace, so runs side by side do
not meet. The switch's nftables table `bridge kvchaos` has a `faults` chain that every
bridged frame passes: a fault adds rules to it (`ip saddr A ip daddr B counter drop`,
with `numgen random mod 100 < N` for random loss) and healing flushes it, after reading
how many packets its rules dropped. Delay, reordering and duplication of what the primary
sends are tc netem's where the kernel has it (a qdisc on the primary's eth0); where it
has not (CONFIG_NET_SCH_NETEM unset), the kernel makes them with what it has: a slow link
(a tc tbf qdisc whose queue holds packets up to the delay and drops beyond), a slow lane
(a tc htb class at a low rate that nftables sends a share of the packets to, so they
arrive after later ones) and nftables' `dup`, which sends a copy of a share of the
frames through the bridge again.

Everything is made by the run as root and removed on every way out of it; a run that
was killed outright leaves namespaces whose PID is gone, and the next run removes them.
"""

import asyncio
import os
import random
import re
import shutil
import subprocess

from chaos_cluster import BaseCluster, Daemon, Server, enter_netns
from chaos_faults import Aim, Draws, FaultSkipped

PREFIX = "kvchaos"
SUBNET = "10.77.0"
PORT = 7000
NETEM_UNAVAILABLE = (
    "netem unavailable in this kernel: delay is a slow link (tc tbf), reordering a slow lane (tc htb, packets "
    "marked by nftables), duplication nftables' dup"
)


def run(argv: list[str], netns: str | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    """Runs a command (in namespace `netns`), its output captured; raises on failure."""
    result = subprocess.run(
        argv,
        input=stdin,
        capture_output=True,
        text=True,
        preexec_fn=(lambda: enter_netns(netns)) if netns else None,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}{' in ' + netns if netns else ''}: {result.stderr.strip()}")
    return result


def missing_prerequisite() -> str | None:
    """Why this machine cannot run the mode, or None. As root, installs nftables when it
    is missing (waiting for the dpkg lock, as scripts/lib/ensure-test-deps does)."""
    if os.geteuid() != 0:
        return "network namespaces, veth pairs and nftables rules need root"
    if shutil.which("ip") is None:
        return "ip (iproute2) is not installed"
    if shutil.which("nft") is None and shutil.which("apt-get") is not None:
        subprocess.run(
            ["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "-qq", "--no-install-recommends", "nftables"],
            env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    if shutil.which("nft") is None:
        return "nft (the nftables package) is not installed and could not be installed"
    probe = f"{PREFIX}-{os.getpid()}-probe"
    try:
        run(["ip", "netns", "add", probe])
        run(["nft", "add table bridge kvchaos"], netns=probe)
    except RuntimeError as error:
        return f"this machine cannot make a network namespace with an nftables bridge table ({error})"
    finally:
        remove_namespace(probe)
    return None


def namespaces() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def remove_namespace(name: str) -> None:
    """Kills what still runs in the namespace, then removes it (its veths go with it)."""
    pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout.split()
    for pid in pids:
        try:
            os.kill(int(pid), 9)
        except (ProcessLookupError, ValueError):
            pass
    subprocess.run(["ip", "netns", "delete", name], capture_output=True)


def remove_leftovers() -> list[str]:
    """Removes the namespaces of runs whose process is gone (killed outright); returns them."""
    removed = []
    for name in namespaces():
        match = re.fullmatch(rf"{PREFIX}-(\d+)-[a-z0-9]+", name)
        if match and not os.path.exists(f"/proc/{match.group(1)}"):
            remove_namespace(name)
            removed.append(name)
    return removed


class Shaping:
    """How this kernel delays, reorders and duplicates packets: with tc netem, or else with
    what it has; `unavailable` names each of those faults it cannot make, and why (the
    schedule still draws them, so a seed's faults stay the same, and they are skipped)."""

    def __init__(self, netem: bool, unavailable: dict[str, str]):
        self.netem = netem
        self.unavailable = unavailable

    @classmethod
    def probe(cls) -> "Shaping":
        """Tries each way on a veth pair in a scratch namespace."""
        scratch = f"{PREFIX}-{os.getpid()}-scratch"
        try:
            run(["ip", "netns", "add", scratch])
            # `name`: a bare "a" would be read as `address`.
            run(["ip", "link", "add", "name", "probe0", "type", "veth", "peer", "name", "probe1"], netns=scratch)

            def works(*commands: tuple[list[str], str | None]) -> str | None:
                try:
                    for argv, stdin in commands:
                        run(argv, netns=scratch, stdin=stdin)
                    return None
                except RuntimeError as error:
                    return str(error)
                finally:
                    subprocess.run(["tc", "qdisc", "del", "dev", "probe0", "root"], capture_output=True,
                                   preexec_fn=lambda: enter_netns(scratch))  # fmt: skip
                    subprocess.run(["nft", "flush", "ruleset"], capture_output=True,
                                   preexec_fn=lambda: enter_netns(scratch))  # fmt: skip

            if works((["tc", "qdisc", "add", "dev", "probe0", "root", "netem", "delay", "1ms"], None)) is None:
                return cls(True, {})
            lane = Network.slow_lane_commands("probe0", 25, "64kbit", 5)
            unavailable = {
                "delay": works((["tc", "qdisc", "add", "dev", "probe0", "root", *Network.slow_link(20, "256kbit")], None)),
                "reorder": works(*lane),
                "duplicate": works((["nft", "-f", "-"], Network.duplication_rules("probe0", "probe1", 10))),
            }  # fmt: skip
            return cls(False, {kind: why for kind, why in unavailable.items() if why is not None})
        except RuntimeError as error:
            return cls(False, {kind: str(error) for kind in ("delay", "reorder", "duplicate")})
        finally:
            remove_namespace(scratch)

    def report_line(self) -> str | None:
        if self.netem:
            return None
        line = NETEM_UNAVAILABLE
        for kind, why in self.unavailable.items():
            line += f"; {kind} cannot be made here either, and is skipped ({why})"
        return line


def qdisc_effects(statistics: str) -> list[str]:
    """What a fault's qdiscs and classes did, from `tc -s qdisc show` and `tc -s class show`:
    for netem, tbf and the slow lane's htb class, the packets sent and dropped, and for tbf
    and the lane how often the rate held packets back (their `overlimits`: throttling
    events, not packets)."""
    effects = []
    for what, header, sent, dropped, overlimits in re.findall(
        r"^(qdisc|class) (.*?)\n\s*Sent \d+ bytes (\d+) pkt \(dropped (\d+), overlimits (\d+)",
        statistics,
        re.MULTILINE,
    ):
        kind = header.split()[0]
        if what == "qdisc" and kind in ("netem", "tbf"):
            throttled = f", throttled {overlimits} times" if kind == "tbf" else ""
            effects.append(f"{kind} sent {sent} packets{throttled}, dropped {dropped}")
        elif what == "class" and header.startswith("htb 1:20 "):
            effects.append(f"slow lane sent {sent} packets, throttled {overlimits} times, dropped {dropped}")
    return effects


def out_of_order_segments(netstat: str) -> int:
    """TcpExt TCPOFOQueue from /proc/net/netstat: the TCP segments a host received out of
    order (queued until the gap before them filled)."""
    lines = [line.split() for line in netstat.splitlines() if line.startswith("TcpExt:")]
    if len(lines) < 2 or "TCPOFOQueue" not in lines[0]:
        return 0
    return int(lines[1][lines[0].index("TCPOFOQueue")])


class Network:
    """The hosts, the switch, and the faults on them."""

    def __init__(self, server_count: int):
        self.prefix = f"{PREFIX}-{os.getpid()}"
        self.addresses = {"monitor": f"{SUBNET}.1", "clients": f"{SUBNET}.100"}
        for number in range(1, server_count + 1):
            self.addresses[f"server{number}"] = f"{SUBNET}.{10 + number}"
        self.switch = self.netns("switch")
        self.dropped_total = 0
        self.shaped: set[str] = set()  # hosts with a qdisc on eth0
        self.laned: set[str] = set()  # hosts whose packets nftables marks for a slow lane
        self.duplicating: set[str] = set()  # switch ports whose frames nftables duplicates
        self.duplicated_total = 0
        self.shaping_report: list[str] = []  # what the last heal found the qdiscs had done

    def netns(self, host: str) -> str:
        return f"{self.prefix}-{host}"

    def create(self) -> None:
        run(["ip", "netns", "add", self.switch])
        run(["ip", "link", "set", "lo", "up"], netns=self.switch)
        run(["ip", "link", "add", "br0", "type", "bridge"], netns=self.switch)
        run(["ip", "link", "set", "br0", "up"], netns=self.switch)
        for host, address in self.addresses.items():
            self.add_host(host, address)
        run(
            ["nft", "-f", "-"],
            netns=self.switch,
            stdin="table bridge kvchaos {\n"
            "  chain faults {}\n"
            "  chain forward { type filter hook forward priority 0; policy accept; jump faults; }\n"
            "}\n",
        )

    def add_host(self, host: str, address: str) -> None:
        netns = self.netns(host)
        run(["ip", "netns", "add", netns])
        run(["ip", "link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", netns], netns=self.switch)
        run(["ip", "link", "set", host, "master", "br0", "up"], netns=self.switch)
        run(["ip", "addr", "add", f"{address}/24", "dev", "eth0"], netns=netns)
        run(["ip", "link", "set", "eth0", "up"], netns=netns)
        run(["ip", "link", "set", "lo", "up"], netns=netns)

    def destroy(self) -> None:
        for name in namespaces():
            if name.startswith(self.prefix + "-"):
                remove_namespace(name)

    async def nft(self, script: str) -> str:
        process = await asyncio.create_subprocess_exec(
            "nft", "-f", "-",
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            preexec_fn=lambda: enter_netns(self.switch),
        )  # fmt: skip
        out, err = await process.communicate(script.encode())
        if process.returncode != 0:
            raise RuntimeError(f"nft: {err.decode(errors='replace').strip()}")
        return out.decode()

    async def drop(self, pairs: list[tuple[str, str]], percent: int | None = None) -> None:
        """Drops what host A sends host B, for each (A, B): all of it, or `percent`% at random."""
        loss = f"numgen random mod 100 < {percent} " if percent is not None else ""
        rules = "".join(
            f"add rule bridge kvchaos faults ip saddr {self.addresses[a]} ip daddr {self.addresses[b]} "
            f"{loss}counter drop\n"
            for a, b in pairs
        )
        await self.nft(rules)

    async def heal_links(self) -> int:
        """Flushes every drop rule; returns the packets they dropped."""
        listing = await self.nft("list chain bridge kvchaos faults\n")
        dropped = sum(int(count) for count in re.findall(r"counter packets (\d+)", listing))
        await self.nft("flush chain bridge kvchaos faults\n")
        self.dropped_total += dropped
        return dropped

    async def shape(self, host: str, qdisc: list[str]) -> None:
        """A root qdisc (`qdisc`: its kind and parameters) on what `host` sends."""
        await asyncio.to_thread(run, ["tc", "qdisc", "replace", "dev", "eth0", "root", *qdisc], self.netns(host))
        self.shaped.add(host)

    @staticmethod
    def slow_link(delay_ms: int, rate: str) -> list[str]:
        """A tbf qdisc: what exceeds `rate` waits in its queue, up to `delay_ms`, and drops
        beyond. The burst is small, so the queue fills as soon as the rate is exceeded."""
        return ["tbf", "rate", rate, "burst", "4kb", "latency", f"{delay_ms}ms"]

    @staticmethod
    def slow_lane_commands(device: str, percent: int, rate: str, packets: int) -> list[tuple[list[str], str | None]]:
        """The commands (argv, stdin) of a slow lane on `device`: an htb class limited to
        `rate`, with a queue of `packets`, that nftables sends `percent`% of what the host
        sends to, at random; the rest passes unhindered."""
        tc = ["tc", "class", "add", "dev", device, "parent", "1:"]
        return [
            (["tc", "qdisc", "replace", "dev", device, "root", "handle", "1:", "htb", "default", "10"], None),
            ([*tc, "classid", "1:10", "htb", "rate", "10gbit", "quantum", "60000"], None),
            ([*tc, "classid", "1:20", "htb", "rate", rate, "burst", "1600", "cburst", "1600"], None),
            (["tc", "qdisc", "add", "dev", device, "parent", "1:20", "pfifo", "limit", str(packets)], None),
            # htb takes a packet whose priority names one of its classes into that class.
            (["nft", "-f", "-"], "table ip kvchaos {\n  chain lane {\n"
             "    type filter hook output priority 0; policy accept;\n"
             f"    numgen random mod 100 < {percent} meta priority set 1:20\n  }}\n}}\n"),
        ]  # fmt: skip

    @staticmethod
    def duplication_rules(port: str, through: str, percent: int) -> str:
        """nftables rules that send `percent`% of the frames entering `port`, at random, out
        through `through` a second time."""
        return (
            f"table netdev kvchaos-dup-{port} {{\n  chain sent {{\n"
            f'    type filter hook ingress device "{port}" priority 0;\n'
            f'    numgen random mod 100 < {percent} counter dup to "{through}"\n  }}\n}}\n'
        )

    async def slow_lane(self, host: str, percent: int, rate: str, packets: int) -> None:
        """A slow lane (`slow_lane_commands`) on `host`'s eth0: the lane's packets arrive
        after ones sent later (and drop when its queue is full)."""
        netns = self.netns(host)
        self.shaped.add(host)
        self.laned.add(host)

        def build() -> None:
            for argv, stdin in self.slow_lane_commands("eth0", percent, rate, packets):
                run(argv, netns, stdin)

        await asyncio.to_thread(build)

    async def duplicate(self, host: str, percent: int) -> None:
        """`percent`% of the frames `host` sends, at random, also sent through the bridge a
        second time (nftables `dup`, at the switch port's ingress)."""
        self.duplicating.add(host)
        await self.nft(self.duplication_rules(host, "br0", percent))

    async def out_of_order(self, hosts: list[str]) -> int:
        """The TCP segments `hosts` have received out of order so far, together."""
        total = 0
        for host in hosts:
            netstat = await asyncio.to_thread(run, ["cat", "/proc/net/netstat"], self.netns(host))
            total += out_of_order_segments(netstat.stdout)
        return total

    async def heal(self) -> int:
        """Removes every fault; returns the packets the drop rules dropped. What the tc
        qdiscs removed did is left in `shaping_report`."""
        self.shaping_report = []
        for host in list(self.shaped):
            for listing in ("qdisc", "class"):
                statistics = await asyncio.to_thread(
                    subprocess.run,
                    ["tc", "-s", listing, "show", "dev", "eth0"],
                    capture_output=True,
                    text=True,
                    preexec_fn=lambda: enter_netns(self.netns(host)),
                )
                self.shaping_report += qdisc_effects(statistics.stdout)
            await asyncio.to_thread(
                subprocess.run,
                ["tc", "qdisc", "del", "dev", "eth0", "root"],
                capture_output=True,
                preexec_fn=lambda: enter_netns(self.netns(host)),
            )
            self.shaped.discard(host)
        for host in list(self.laned):
            await asyncio.to_thread(
                subprocess.run,
                ["nft", "delete", "table", "ip", "kvchaos"],
                capture_output=True,
                preexec_fn=lambda: enter_netns(self.netns(host)),
            )
            self.laned.discard(host)
        for host in list(self.duplicating):
            table = f"kvchaos-dup-{host}"
            self.duplicating.discard(host)
            try:
                listing = await self.nft(f"list table netdev {table}\n")
            except RuntimeError:  # never made: the fault failed as it was injected
                continue
            self.duplicated_total += sum(int(count) for count in re.findall(r"counter packets (\d+)", listing))
            await self.nft(f"delete table netdev {table}\n")
        return await self.heal_links()


class NetnsCluster(BaseCluster):
    """The daemons each on a host of `network`; kvctl runs on the monitor's host, which
    no fault separates from the monitor."""

    def __init__(self, bin_dir: str, work_dir: str, server_count: int, network: Network, fsync: str = "always"):
        super().__init__(bin_dir, work_dir, fsync)
        self.network = network
        self.monitor_address = f"{network.addresses['monitor']}:{PORT}"
        self.control_netns = network.netns("monitor")
        self.client_netns = network.netns("clients")
        self.monitor = Daemon(
            "monitor", self.monitor_argv(), os.path.join(work_dir, "monitor.log"), self.processes, self.control_netns
        )
        for number in range(1, server_count + 1):
            host = f"server{number}"
            log = os.path.join(work_dir, f"{host}.log")
            daemon = Daemon(host, [], log, self.processes, network.netns(host))
            self.servers.append(Server(number, f"{network.addresses[host]}:{PORT}", daemon, host=host))

    def describe(self) -> str:
        return "hosts (network namespaces on one bridge): " + ", ".join(
            f"{host} {address}" for host, address in self.network.addresses.items()
        )

    def links_line(self) -> str:
        return f"  network: {self.network.dropped_total} packets dropped by nftables rules over the run"

    async def start(self) -> None:
        await asyncio.to_thread(self.network.create)
        for server in self.servers:
            server.daemon.argv = self.server_argv(server, self.monitor_address)
        await self.start_daemons()

    async def stop(self) -> None:
        await super().stop()
        await asyncio.to_thread(self.network.destroy)

    async def heal_all(self) -> None:
        await self.network.heal()


class KernelFaults:
    """The network faults of the --netns mode: nftables drop rules on the switch, and
    delay, reordering and duplication of what the primary sends: tc netem on its eth0 when
    the kernel has sch_netem, else tc tbf, tc htb with nftables marks, and nftables `dup`
    (see the module's docstring; `Shaping`). A seed draws the same schedule either way."""

    WEIGHTS = {
        "partition-primary": 2,
        "one-way": 2,
        "isolate-primary": 1,
        "split": 1,
        "flapping-link": 1,
        "lossy-link": 2,
        "delay": 1,
        "reorder": 1,
        "duplicate": 1,
    }
    DESCRIPTIONS = {
        "partition-primary": "the primary and the monitor cut off from each other (both directions; the primary "
        "still reaches its backup and the clients) for 0.5-3 s",
        "one-way": "one direction of one link dropped (primary->monitor, monitor->primary, primary->backup, ... "
        "chosen by the seed) for 0.5-3 s",
        "isolate-primary": "the primary cut off from every other host, both directions, for 1-4 s",
        "split": "majority/minority: {monitor, backup, spare servers} cut off from {primary, clients} for 1-4 s",
        "flapping-link": "one link cut and healed every 100-400 ms for 2-5 s",
        "lossy-link": "one link drops 5-40% of its packets at random (nft numgen), both directions, for 2-5 s",
        "delay": "what the primary sends delayed 20-200 ms for 2-5 s: tc netem delay D (+-25%); without netem a "
        "slow link, tc tbf at 256 kbit/s-1 Mbit/s with a 4 KB burst, whose queue holds packets up to D and drops "
        "beyond",
        "reorder": "what the primary sends reordered for 2-5 s: tc netem delay 10ms, 25% of it not; without netem "
        "25% of it (nftables numgen) through a tc htb lane at 64 kbit/s with a 10-packet queue; the report counts "
        "the segments the other hosts received out of order (TcpExt TCPOFOQueue)",
        "duplicate": "5-30% of what the primary sends duplicated for 2-5 s: tc netem duplicate; without netem "
        "nftables dup at its switch port",
    }

    def __init__(self, cluster: NetnsCluster, shaping: Shaping):
        self.cluster = cluster
        self.network = cluster.network
        self.shaping = shaping

    @classmethod
    def weights(cls) -> dict[str, int]:
        return dict(cls.WEIGHTS)

    def link(self, name: str, aim: Aim) -> tuple[str, str]:
        return {
            "clients->primary": ("clients", aim.primary.host),
            "primary->backup": (aim.primary.host, aim.backup.host),
            "primary->monitor": (aim.primary.host, "monitor"),
            "backup->monitor": (aim.backup.host, "monitor"),
        }[name]

    async def inject(self, kind: str, aim: Aim, draws: Draws) -> str:
        before = self.network.dropped_total
        duplicated_before = self.network.duplicated_total
        shaped = kind in ("delay", "reorder", "duplicate")
        # Only what delays, reorders or duplicates packets is judged by what arrived out of order.
        receivers = [host for host in self.network.addresses if host != aim.primary.host] if shaped else []
        out_of_order_before = await self.network.out_of_order(receivers)
        # Set up inside the try: a fault that fails half made is removed too.
        try:
            if shaped:
                what, lasting = await self.shape(kind, aim, draws)
            else:
                what, lasting = await self.drop(kind, aim, draws)
            await self.hold(kind, lasting, aim, draws)
            during = await self.cluster.view()
        finally:
            await self.network.heal()
        out_of_order = await self.network.out_of_order(receivers) - out_of_order_before
        dropped = self.network.dropped_total - before
        duplicated = self.network.duplicated_total - duplicated_before
        seen = f"view {during['viewnum']}, primary {self.name_at(during.get('primary'))}" if during else "no view"
        counts = f"{dropped} packets dropped by nftables" + (f", {duplicated} duplicated" if kind == "duplicate" else "")
        counts += "".join(f"; {effect}" for effect in self.network.shaping_report)
        if shaped:
            counts += f"; the other hosts received {out_of_order} TCP segments out of order"
        return f"{what} for {lasting:.1f} s: {counts}; struck in {aim.where}; at its end {seen}"

    def name_at(self, advertised: str | None) -> str:
        server = self.cluster.server_at(advertised or "")
        return server.name if server else "none"

    async def drop(self, kind: str, aim: Aim, draws: Draws) -> tuple[str, float]:
        primary = aim.primary.host
        a, b = self.link(draws.link, aim)
        if kind == "partition-primary":
            await self.network.drop([(primary, "monitor"), ("monitor", primary)])
            return f"{primary} <-/-> monitor", 0.5 + draws.first * 2.5
        if kind == "one-way":
            if draws.second >= 0.5:
                a, b = b, a
            await self.network.drop([(a, b)])
            return f"one-way {a} -/-> {b} ({b} -> {a} still delivered)", 0.5 + draws.first * 2.5
        if kind in ("isolate-primary", "split"):
            minority = [primary] + (["clients"] if kind == "split" else [])
            majority = [host for host in self.network.addresses if host not in minority]
            await self.network.drop([pair for x in minority for y in majority for pair in ((x, y), (y, x))])
            return f"{{{', '.join(minority)}}} <-/-> {{{', '.join(majority)}}}", 1 + draws.first * 3
        if kind == "flapping-link":
            return f"flapping {a} <-> {b}", 2 + draws.first * 3
        if kind == "lossy-link":
            percent = 5 + round(draws.second * 35)
            await self.network.drop([(a, b), (b, a)], percent)
            return f"{percent}% loss on {a} <-> {b}", 2 + draws.first * 3
        raise ValueError(f"unknown fault {kind}")

    async def shape(self, kind: str, aim: Aim, draws: Draws) -> tuple[str, float]:
        lasting = 2 + draws.first * 3
        host = aim.primary.host
        delay = 20 + round(draws.second * 180)
        percent = 5 + round(draws.second * 25)
        if self.shaping.netem:
            qdisc = {
                "delay": ["netem", "delay", f"{delay}ms", f"{delay // 4}ms"],
                "reorder": ["netem", "delay", "10ms", "reorder", "25%", "50%"],
                "duplicate": ["netem", "duplicate", f"{percent}%"],
            }[kind]
            await self.network.shape(host, qdisc)
            return f"{' '.join(qdisc)} on {host}'s eth0", lasting
        if kind in self.shaping.unavailable:
            raise FaultSkipped(f"{kind} without netem cannot be made in this kernel ({self.shaping.unavailable[kind]})")
        if kind == "delay":
            qdisc = Network.slow_link(delay, f"{256 * (1 + int(draws.third * 4))}kbit")
            await self.network.shape(host, qdisc)
            return f"slow link: {' '.join(qdisc)} on {host}'s eth0", lasting
        if kind == "reorder":
            await self.network.slow_lane(host, 25, "64kbit", 10)
            return f"slow lane: 25% of what {host} sends through htb rate 64kbit, pfifo limit 10", lasting
        await self.network.duplicate(host, percent)
        return f"nft dup to br0 of {percent}% of the frames {host} sends", lasting

    async def hold(self, kind: str, lasting: float, aim: Aim, draws: Draws) -> None:
        """Waits out the fault; a flapping link is cut and healed all the while, at
        intervals from a generator of its own (the schedule's draws stay fixed)."""
        if kind != "flapping-link":
            await asyncio.sleep(lasting)
            return
        a, b = self.link(draws.link, aim)
        rng = random.Random(draws.third)
        end = asyncio.get_running_loop().time() + lasting
        while asyncio.get_running_loop().time() < end:
            await self.network.drop([(a, b), (b, a)])
            await asyncio.sleep(rng.uniform(0.1, 0.4))
            await self.network.heal_links()
            await asyncio.sleep(rng.uniform(0.1, 0.4))
