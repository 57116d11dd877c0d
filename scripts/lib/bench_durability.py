"""scripts/bench --durability: servers with data directories next to Redis with an AOF
(docs/STORAGE.md, docs/PERFORMANCE.md).

For each kv-server --fsync policy (always, everysec, no) and memory only, a fresh
cluster: a kv-monitor, two kv-servers, and a Redis primary with a replica whose appendonly
matches (appendfsync always, everysec, no; off for memory only). redis-benchmark -t set
-r 100000 at -P 1 and -P 16 against both; the kvservice primary's metrics give the
records per fdatasync (the group commit) and the fdatasync p99. Then, under always and
appendfsync everysec, --keys keys of --value-size bytes are written to both: the disk
bytes per put (kvservice's log, Redis's AOF growing by the load); then the bytes per key in
compact form (the snapshot a restarted kvservice backup receives by transfer, Redis's AOF
rewritten with its RDB preamble); then every process is killed with kill -9, and the time
from the restart to serving is measured for each (kvservice: the primary recovers its
snapshot and log and is revived; Redis: loads its AOF).

Under always, the same SETs are also sent by set_load (scripts/lib/set_load.c, built with
cc) at -P 1 and -P 16 to both, and to Redis once more with `WAIT 1 0` after each pipeline: Redis's synchronous replication, whose answer waits for the
replica to have the writes, as a kvservice reply waits for its backup to have synced them
(docs/PERFORMANCE.md, "Next to Redis with synchronous replication"). At -P 1 set_load
spends half redis-benchmark's CPU per request, on the cores the servers share.
"""

import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import time
import urllib.request

# (kv-server --fsync, Redis appendfsync) per run; None: memory only / no AOF.
RUNS = (("always", "always"), ("everysec", "everysec"), ("no", "no"), (None, None))


def scrape(address: str) -> dict[str, float]:
    """The Prometheus text of a kv-server's /metrics, as name{labels} → value."""
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            try:
                values[name] = float(value)
            except ValueError:
                pass
    return values


def histogram_quantile(values: dict[str, float], name: str, quantile: float) -> float | None:
    """The upper bound of the bucket holding `quantile` of a histogram's observations."""
    buckets = []
    for key, count in values.items():
        match = re.fullmatch(rf'{name}_bucket\{{.*le="([^"]+)".*\}}', key)
        if match:
            bound = float("inf") if match.group(1) == "+Inf" else float(match.group(1))
            buckets.append((bound, count))
    buckets.sort()
    if not buckets or buckets[-1][1] == 0:
        return None
    for bound, count in buckets:
        if count >= quantile * buckets[-1][1]:
            return bound
    return None


def group_commit(cluster, bench) -> dict:
    view = cluster.wait_for_view(cluster.complete, "an acknowledged view with a primary and a backup")
    values = scrape(cluster.metrics[view["primary"]])
    syncs = values.get("kvservice_log_sync_records_count", 0)
    records = values.get("kvservice_log_sync_records_sum", 0)
    return {
        "syncs": syncs,
        "records_per_sync": records / syncs if syncs else None,
        "sync_p99_ms": (lambda q: q * 1000 if q is not None else None)(
            histogram_quantile(values, "kvservice_log_sync_duration_seconds", 0.99)),
    }  # fmt: skip


def directory_bytes(path: str) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total


def throughput(cluster, bench, args) -> dict:
    results = {}
    for pipeline in (1, 16):
        order = ("kvservice", "redis") if pipeline == 1 else ("redis", "kvservice")
        for system in order:
            port = cluster.primary_resp() if system == "kvservice" else cluster.redis_port
            results[f"{system} P{pipeline}"] = bench.redis_benchmark(
                port, args.requests, args.clients, pipeline, tests=("set",), options=("-r", "100000"))["SET"]
    return results


def build_set_load(work: str, bench) -> str:
    """set_load, compiled into `work` with cc (as --callgrind builds its shim): its path."""
    source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "set_load.c")
    executable = os.path.join(work, "set_load")
    bench.run_tool(["cc", "-O2", "-o", executable, source])
    return executable


def set_load(executable: str, port: int, args, pipeline: int, wait: int, bench) -> dict:
    return json.loads(bench.run_tool(
        [executable, "--port", str(port), "--clients", str(args.clients), "--requests", str(args.requests),
         "--pipeline", str(pipeline), "--wait", str(wait), "--keyspace", "100000"], timeout=600))  # fmt: skip


def synchronous_replication(cluster, bench, args, work: str) -> dict:
    """set_load against kvservice, Redis, and Redis with WAIT 1 0 after each pipeline."""
    executable = build_set_load(work, bench)
    results = {}
    systems = (("kvservice", cluster.primary_resp(), 0), ("redis", cluster.redis_port, 0),
               ("redis wait", cluster.redis_port, 1))  # fmt: skip
    for pipeline in (1, 16):
        # Rotated at -P 16 (Redis, Redis with WAIT, kvservice): no system always runs first.
        for system, port, wait in systems if pipeline == 1 else systems[1:] + systems[:1]:
            results[f"{system} P{pipeline}"] = set_load(executable, port, args, pipeline, wait, bench)
    return results


def recovery(cluster, bench, args) -> dict:
    """--keys keys into both, kill -9 of everything, restart, time to serving."""
    figures = {"keys": args.keys, "value_size": args.value_size}
    view = cluster.wait_for_view(cluster.complete, "an acknowledged view with a primary and a backup")
    primary, backup = view["primary"], view["backup"]
    print(f"  loading {args.keys} keys of {args.value_size} bytes into both ...", flush=True)
    before = scrape(cluster.metrics[primary])
    redis_dir = os.path.join(cluster.work, "redis-primary-aof")
    # Every put of the load in the AOF, as every one is in kvservice's log until a snapshot.
    cluster.redis_cli(cluster.redis_port, "CONFIG", "SET", "auto-aof-rewrite-percentage", "0")
    redis_before = directory_bytes(redis_dir)
    figures["load_s"] = {
        "kvservice": bench.load(int(cluster.servers[primary].rsplit(":", 1)[1]), args.keys, args.value_size),
        "redis": bench.load(cluster.redis_port, args.keys, args.value_size),
    }
    metrics = scrape(cluster.metrics[primary])
    figures["log_records_loaded"] = metrics.get("kvservice_log_synced_lsn", 0) - before.get("kvservice_log_synced_lsn", 0)
    appended = metrics.get("kvservice_log_appended_bytes", 0) - before.get("kvservice_log_appended_bytes", 0)
    cluster.wait_for_replica_offset()
    figures["log_bytes_per_put"] = {
        "kvservice": appended / max(1, figures["log_records_loaded"]),
        "redis": (directory_bytes(redis_dir) - redis_before) / max(1, args.keys)}
    cluster.redis_cli(cluster.redis_port, "BGREWRITEAOF")  # a compact AOF (an RDB preamble), as a snapshot is
    bench.wait_until(lambda: cluster.redis_info(cluster.redis_port, "persistence").get(
        "aof_rewrite_in_progress") == "0", 120, "Redis's AOF rewrite")  # fmt: skip
    # kvservice's compact form: the snapshot a restarted backup receives by transfer, which
    # replaces its whole directory (docs/STORAGE.md); the primary's holds the load's log.
    print("  kill -9 of the backup, restart, until its transfer is acknowledged ...", flush=True)
    loaded_view = view["viewnum"]
    cluster.kill_server(backup)
    cluster.start_server(backup)
    cluster.wait_for_view(
        lambda v: cluster.complete(v) and v["viewnum"] > loaded_view and v["backup"] == backup,
        f"{backup} back as the backup, its transfer acknowledged", timeout=300)  # fmt: skip
    # Per key held: the throughput runs' keys are there too, in both.
    held = {"kvservice": scrape(cluster.metrics[primary]).get("kvservice_keys", 0),
            "redis": int(cluster.redis_cli(cluster.redis_port, "DBSIZE") or 0)}  # fmt: skip
    figures["keys_held"] = held
    figures["disk_bytes_per_key"] = {
        "kvservice": directory_bytes(cluster.data_dir(backup)) / max(1, held["kvservice"]),
        "redis": directory_bytes(redis_dir) / max(1, held["redis"])}
    figures["disk_bytes_per_key_primary_after_load"] = directory_bytes(cluster.data_dir(primary)) / max(
        1, held["kvservice"])

    print("  kill -9 of both servers and of Redis, restart, time to serving ...", flush=True)
    # The backup first, and the primary once the monitor has dropped it from the view.
    # Killed together, either may be found dead first (their pings' phases differ); the
    # backup, found dead last, is promoted into a view it never acknowledges, which the
    # restarted primary is not a member of: then only the backup's restart revives anyone
    # (docs/DESIGN.md §3.12, D3), and the measure would wait for ever.
    cluster.kill_server(backup)
    cluster.wait_for_view(lambda v: v.get("acked") and v.get("primary") == primary and not v.get("backup"),
                          f"{primary} primary without a backup")  # fmt: skip
    cluster.kill_server(primary)
    cluster.redis_process.send_signal(signal.SIGKILL)
    cluster.redis_process.wait()
    cluster.replica_process.send_signal(signal.SIGKILL)
    cluster.replica_process.wait()
    key = "key:0000000000"
    started = time.monotonic()
    cluster.start_server(primary)
    bench.wait_until(lambda: cluster.kvctl("get", key, "--timeout", "1").returncode == 0, 120,
                     "the restarted primary serving")  # fmt: skip
    figures["kvservice_restart_to_serving_s"] = time.monotonic() - started
    with open(cluster.server_log(primary), errors="replace") as log:
        opened = [line for line in log if "kv_event=storage-opened" in line]
    figures["kvservice_opening"] = opened[-1].split("] ", 1)[-1].strip() if opened else ""
    started = time.monotonic()
    cluster.redis_process = cluster.start_redis(cluster.redis_port, "redis-primary")
    bench.wait_until(lambda: cluster.redis_cli(cluster.redis_port, "GET", key) not in ("", None), 120,
                     "Redis serving after loading its AOF")  # fmt: skip
    figures["redis_restart_to_serving_s"] = time.monotonic() - started
    return figures


def main(args, bench) -> int:
    if not bench.redis_tools_present():
        return 2
    if shutil.which("cc") is None:
        print("scripts/bench: cc not found, to build scripts/lib/set_load.c (apt-get install gcc)",
              file=bench.sys.stderr)  # fmt: skip
        return 2
    bin_dir = os.path.abspath(args.bin) if args.bin else bench.build()
    figures: dict = {"machine": bench.machine(), "command": " ".join(["scripts/bench", *bench.sys.argv[1:]]),
                     "runs": {}}  # fmt: skip
    started = time.monotonic()
    requests = min(args.requests, 100_000)
    args.requests = requests
    for fsync, appendfsync in RUNS:
        name = fsync or "memory"
        work = bench.tempfile.mkdtemp(prefix=f"kvservice-bench-{name}.")
        print(f"kv-server --fsync {fsync or '(memory only)'} next to Redis appendfsync {appendfsync or '(no AOF)'}: "
              f"redis-benchmark -t set -r 100000 -c {args.clients} -n {requests}, -P 1 and -P 16 ...",
              flush=True)  # fmt: skip
        with bench.Children() as children:
            try:
                cluster = bench.Cluster(
                    bin_dir, work, children, fsync=fsync, redis_appendfsync=appendfsync, server_args=args.server_args)
                cluster.start()
                run = {"throughput": throughput(cluster, bench, args)}
                if fsync is not None:
                    run["group_commit"] = group_commit(cluster, bench)
                if fsync == "always":
                    print("set_load -P 1 and -P 16: kvservice, Redis, Redis with WAIT 1 0 after each pipeline ...",
                          flush=True)  # fmt: skip
                    run["synchronous"] = synchronous_replication(cluster, bench, args, work)
                    cluster.redis_cli(cluster.redis_port, "CONFIG", "SET", "appendfsync", "everysec")
                    run["recovery"] = recovery(cluster, bench, args)
                figures["runs"][name] = run
            except (bench.BenchFailed, TimeoutError, subprocess.TimeoutExpired) as error:
                print(f"scripts/bench: {error} (logs in {work})", file=bench.sys.stderr)
                return 1
        if not args.keep:
            bench.shutil.rmtree(work, ignore_errors=True)
    figures["elapsed_s"] = time.monotonic() - started
    m = figures["machine"]
    print(f"\n{m['cpu']}, {m['cores']} cores, {m['memory_mib']} MiB, Linux {m['kernel']}; {m['redis']}")
    print(f"run took {figures['elapsed_s']:.0f} s\n")
    for line in report(figures, bench):
        print(line)
    if os.path.basename(bin_dir.rstrip("/")) == "debug":
        print("\n(debug binaries: a check that the run works; these figures say nothing about performance)")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(figures, out, indent=2)
    return 0


def report(figures: dict, bench) -> list[str]:
    rows = []
    runs = figures["runs"]
    for name, run in runs.items():
        label = "memory only" if name == "memory" else f"fsync {name}"
        redis_label = "no AOF" if name == "memory" else f"appendfsync {name}"
        for pipeline in (1, 16):
            kv, redis = run["throughput"][f"kvservice P{pipeline}"], run["throughput"][f"redis P{pipeline}"]
            target = 1.0 if name == "always" else None
            ratio = kv["rps"] / redis["rps"]
            rows.append((f"SET req/s -P {pipeline}, {label} / Redis {redis_label}", f"{kv['rps']:,.0f}",
                         f"{redis['rps']:,.0f}", f"{ratio:.2f}", "≥ 1.0×" if target else "",
                         None if target is None else ratio >= target))  # fmt: skip
            rows.append((f"  SET p99 ms -P {pipeline}", f"{kv['p99_ms']:.2f}", f"{redis['p99_ms']:.2f}",
                         f"{kv['p99_ms'] / redis['p99_ms']:.2f}", "", None))  # fmt: skip
        synchronous = run.get("synchronous")
        for pipeline in (1, 16) if synchronous else ():
            kv = synchronous[f"kvservice P{pipeline}"]
            for other, what in (("redis wait", "Redis always + WAIT 1 0"), ("redis", "Redis always")):
                redis = synchronous[f"{other} P{pipeline}"]
                rows.append((f"  set_load: SET req/s -P {pipeline}, {label} / {what}", f"{kv['rps']:,.0f}",
                             f"{redis['rps']:,.0f}", f"{kv['rps'] / redis['rps']:.2f}", "", None))  # fmt: skip
                rows.append((f"    SET p99 ms -P {pipeline}", f"{kv['p99_ms']:.2f}", f"{redis['p99_ms']:.2f}",
                             f"{kv['p99_ms'] / redis['p99_ms']:.2f}", "", None))  # fmt: skip
        commit = run.get("group_commit")
        if commit and commit["records_per_sync"] is not None:
            rows.append(("  records per fdatasync", f"{commit['records_per_sync']:.1f}", "", "", "", None))
            if commit["sync_p99_ms"] is not None:
                rows.append(("  fdatasync p99 ms (bucket bound)", f"{commit['sync_p99_ms']:.2f}", "", "", "", None))
    if "everysec" in runs and "memory" in runs:
        for pipeline in (1, 16):
            every = runs["everysec"]["throughput"][f"kvservice P{pipeline}"]["rps"]
            memory = runs["memory"]["throughput"][f"kvservice P{pipeline}"]["rps"]
            ratio = every / memory
            rows.append((f"everysec / memory only, SET -P {pipeline}", f"{ratio:.2f}", "", "", "≥ 0.9×",
                         ratio >= 0.9))  # fmt: skip
    recovery = runs.get("always", {}).get("recovery")
    if recovery:
        label = f"{recovery['keys']:,}×{recovery['value_size']} B"
        seconds = recovery["kvservice_restart_to_serving_s"]
        rows.append((f"restart to serving, {label} (s)", f"{seconds:.2f}",
                     f"{recovery['redis_restart_to_serving_s']:.2f}", "", "≤ 2 s", seconds <= 2.0))  # fmt: skip
        for row, name in (("disk bytes per key (snapshot / rewritten AOF)", "disk_bytes_per_key"),
                          ("disk bytes per put (log / AOF)", "log_bytes_per_put")):
            kv, redis = recovery[name]["kvservice"], recovery[name]["redis"]
            rows.append((row, f"{kv:.0f}", f"{redis:.0f}", f"{kv / redis:.2f}" if redis else "n/a", "", None))
        rows.append((f"load {label} (s, --pipe)", f"{recovery['load_s']['kvservice']:.2f}",
                     f"{recovery['load_s']['redis']:.2f}", "", "", None))  # fmt: skip
    lines = bench.table(bench.HEADER, rows)
    if recovery:
        lines.append(f"\nkvservice at restart: {recovery['kvservice_opening']}")
    return lines
