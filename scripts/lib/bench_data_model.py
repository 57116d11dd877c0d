"""scripts/bench --data-model: the data model's commands next to Redis (issue 15;
docs/PERFORMANCE.md, "The data model").

One cluster (a kv-monitor, two kv-servers, memory only) next to a Redis primary with a
replica (no persistence), as the default run starts them:

  1. redis-benchmark -t set,get,incr,mset -r 100000 at -P 1 and -P 16 against both,
     alternating which goes first;
  2. memory per key: --keys keys of --value-size bytes written to both with plain SET
     (redis-cli --pipe), the resident memory each primary grew by; then as many other
     keys with SET ... EX 3600, and what each grew by again (a deadline's cost on top);
  3. a full SCAN of every key (2 × --keys) with COUNT 1000 over one connection, timed,
     and checked to return every key.
"""

import os
import socket
import subprocess
import time


def resp_command(*words: bytes) -> bytes:
    return b"*%d\r\n" % len(words) + b"".join(b"$%d\r\n%s\r\n" % (len(word), word) for word in words)


def stream(count: int, value_size: int, prefix: bytes, ttl: int | None):
    """SET commands for the keys `prefix`0000000000..., in blocks of 5000."""
    block = []
    for index in range(count):
        key = prefix + b"%010d" % index
        value = (b"%010d" % index * (value_size // 10 + 1))[:value_size]
        words = [b"SET", key, value] + ([b"EX", b"%d" % ttl] if ttl else [])
        block.append(resp_command(*words))
        if len(block) == 5000:
            yield b"".join(block)
            block = []
    if block:
        yield b"".join(block)


class RESPReader:
    """Just enough of a RESP2 reader for SCAN's replies: bulk strings and arrays."""

    def __init__(self, sock: socket.socket):
        self.file = sock.makefile("rb")

    def read(self):
        line = self.file.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"$":
            length = int(rest)
            if length < 0:
                return None
            data = self.file.read(length + 2)
            return data[:-2]
        if kind == b"*":
            return [self.read() for _ in range(int(rest))]
        if kind == b"-":
            raise RuntimeError(rest.decode(errors="replace"))
        return rest


def full_scan(bench, port: int, expected: int) -> float:
    """A SCAN loop with COUNT 1000 over one connection, as a client library runs it."""
    keys = set()
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        reader = RESPReader(sock)
        cursor = b"0"
        while True:
            sock.sendall(resp_command(b"SCAN", cursor, b"COUNT", b"1000"))
            try:
                cursor, page = reader.read()
            except RuntimeError as error:
                raise bench.BenchFailed(f"SCAN on port {port} failed: {error}")
            keys.update(page)
            if cursor == b"0":
                break
    elapsed = time.monotonic() - started
    if len(keys) != expected:
        raise bench.BenchFailed(f"a full SCAN of port {port} returned {len(keys)} distinct keys, not {expected}")
    return elapsed


def main(args, bench) -> int:
    if not bench.redis_tools_present():
        return 2
    bin_dir = os.path.abspath(args.bin) if args.bin else bench.build()
    work = bench.tempfile.mkdtemp(prefix="kvservice-bench-data-model.")
    figures: dict = {"machine": bench.machine(), "command": " ".join(["scripts/bench", *bench.sys.argv[1:]])}
    started = time.monotonic()
    tests = ("set", "get", "incr", "mset")
    with bench.Children() as children:
        try:
            cluster = bench.Cluster(bin_dir, work, children, server_args=args.server_args)
            cluster.start()
            view = cluster.wait_for_view(cluster.complete, "an acknowledged view with a primary and a backup")
            print(f"redis-benchmark -t {','.join(tests)} -r 100000 -c {args.clients} -n {args.requests}, "
                  "-P 1 and -P 16, on both ...", flush=True)  # fmt: skip
            throughput = {}
            for pipeline in (1, 16):
                order = ("kvservice", "redis") if pipeline == 1 else ("redis", "kvservice")
                for system in order:
                    port = cluster.primary_resp() if system == "kvservice" else cluster.redis_port
                    throughput[f"{system} P{pipeline}"] = bench.redis_benchmark(
                        port, args.requests, args.clients, pipeline, tests=tests, options=("-r", "100000"))
            figures["throughput"] = throughput

            ports = {"kvservice": cluster.primary_resp(), "redis": cluster.redis_port}
            pids = {"kvservice": cluster.server_process[view["primary"]].pid, "redis": cluster.redis_process.pid}
            for system, port in ports.items():
                cluster.redis_cli(port, "FLUSHALL")
            memory: dict = {"keys": args.keys, "value_size": args.value_size}
            for label, prefix, ttl in (("plain", b"plain:", None), ("with_deadline", b"ttl:", 3600)):
                print(f"loading {args.keys} keys of {args.value_size} bytes "
                      f"({'SET ... EX 3600' if ttl else 'SET'}) into both ...", flush=True)  # fmt: skip
                before = {system: bench.rss_bytes(pid) for system, pid in pids.items()}
                for system, port in ports.items():
                    bench.load(port, args.keys, args.value_size, timeout=900,
                               blocks=stream(args.keys, args.value_size, prefix, ttl))  # fmt: skip
                cluster.wait_for_replica()
                after = {system: bench.rss_bytes(pid) for system, pid in pids.items()}
                memory[label] = {system: (after[system] - before[system]) / args.keys for system in after}
            figures["memory_per_key"] = memory

            print(f"SCAN of {2 * args.keys} keys with COUNT 1000 on both ...", flush=True)
            figures["scan_s"] = {system: full_scan(bench, port, 2 * args.keys) for system, port in ports.items()}
            figures["scan_keys"] = 2 * args.keys
        except (bench.BenchFailed, TimeoutError, subprocess.TimeoutExpired) as error:
            print(f"scripts/bench: {error} (logs in {work})", file=bench.sys.stderr)
            return 1
    return bench.finish(figures, report(figures, bench), args, bin_dir, work, started)


def report(figures: dict, bench) -> list[str]:
    rows = []
    for pipeline in (1, 16):
        kv, redis = figures["throughput"][f"kvservice P{pipeline}"], figures["throughput"][f"redis P{pipeline}"]
        for test in ("SET", "GET", "INCR", "MSET (10 keys)"):
            name = test.split()[0]
            ratio = kv[name]["rps"] / redis[name]["rps"]
            rows.append((f"{test} req/s, -P {pipeline}", f"{kv[name]['rps']:,.0f}", f"{redis[name]['rps']:,.0f}",
                         f"{ratio:.2f}", "", None))  # fmt: skip
    memory = figures["memory_per_key"]
    label = f"{memory['keys']:,}×{memory['value_size']} B"
    for key, name in (("plain", "memory per key"), ("with_deadline", "memory per key with a deadline")):
        kv, redis = memory[key]["kvservice"], memory[key]["redis"]
        ratio = kv / redis
        rows.append((f"{name}, {label}", f"{kv:.0f}", f"{redis:.0f}", f"{ratio:.2f}", "≤ 1.5×", ratio <= 1.5))
    scan = figures["scan_s"]
    rows.append((f"SCAN of {figures['scan_keys']:,} keys, COUNT 1000, s", f"{scan['kvservice']:.2f}",
                 f"{scan['redis']:.2f}", f"{scan['kvservice'] / scan['redis']:.2f}", "", None))  # fmt: skip
    return bench.table(("measure", "kvservice", "redis", "ratio", "target"), rows)
