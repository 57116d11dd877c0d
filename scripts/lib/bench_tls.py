"""scripts/bench --tls: TLS next to plain TCP, on kvservice and on Redis (issue 17;
docs/PERFORMANCE.md, "TLS").

The default run's cluster (a kv-monitor, two kv-servers with their Redis-protocol
endpoints) and Redis pair (a primary with one replica), started twice: plain, then with
every link in TLS (a CA and one certificate per role made with openssl, as kvservice(7)
shows; client certificates required by both). Each time:

  1. redis-benchmark -t set,get -r 100000 -c --clients at -P 1 and -P 16 against both
     primaries: what encrypting a stream costs;
  2. the same at -P 1 with a new connection for every request (-k 0), fewer requests:
     what a connection's set-up costs, the TLS handshake included;
  3. kvctl bench (--clients sessions, the default mix) against kvservice.
"""

import os
import subprocess
import time


class Certificates:
    """A CA, a certificate each for the monitor, the servers and the clients (all with
    subjectAltName IP:127.0.0.1), made with openssl in `directory`."""

    ROLES = ("monitor", "server", "client")

    def __init__(self, directory: str):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        self.run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                  "-keyout", self.path("ca.key"), "-out", self.path("ca.crt"), "-days", "30",
                  "-subj", "/CN=kvservice bench CA"])  # fmt: skip
        extensions = self.path("leaf.ext")
        with open(extensions, "w") as out:
            out.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n"
                      "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n")  # fmt: skip
        for role in self.ROLES:
            self.run(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                      "-keyout", self.path(f"{role}.key"), "-out", self.path(f"{role}.csr"), "-subj", f"/CN={role}"])  # fmt: skip
            self.run(["x509", "-req", "-in", self.path(f"{role}.csr"), "-CA", self.path("ca.crt"),
                      "-CAkey", self.path("ca.key"), "-CAcreateserial", "-out", self.path(f"{role}.crt"),
                      "-days", "30", "-extfile", extensions])  # fmt: skip

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    @staticmethod
    def run(arguments: list[str]) -> None:
        result = subprocess.run(["openssl", *arguments], capture_output=True, text=True, timeout=60,
                                stdin=subprocess.DEVNULL)  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"openssl {' '.join(arguments)} failed: {result.stderr.strip()}")

    def daemon_arguments(self, role: str) -> list[str]:
        return ["--tls-cert", self.path(f"{role}.crt"), "--tls-key", self.path(f"{role}.key"),
                "--tls-ca", self.path("ca.crt")]  # fmt: skip

    def kvctl_environment(self) -> dict[str, str]:
        return {"KV_TLS_CA": self.path("ca.crt"), "KV_TLS_CERT": self.path("client.crt"),
                "KV_TLS_KEY": self.path("client.key")}  # fmt: skip

    def redis_server_arguments(self) -> list[str]:
        # The replica dials its primary with the same certificate (tls-client-cert-file
        # defaults to tls-cert-file); clients must present one, as kvservice's default.
        return ["--tls-cert-file", self.path("server.crt"), "--tls-key-file", self.path("server.key"),
                "--tls-ca-cert-file", self.path("ca.crt"), "--tls-replication", "yes",
                "--tls-auth-clients", "yes"]  # fmt: skip

    def redis_client_arguments(self) -> list[str]:
        return ["--tls", "--cacert", self.path("ca.crt"), "--cert", self.path("client.crt"),
                "--key", self.path("client.key")]  # fmt: skip


def measure(bench, args, cluster) -> dict:
    tls = cluster.redis_client_tls()
    ports = {"kvservice": cluster.primary_resp(), "redis": cluster.redis_port}
    figures: dict = {"stream": {}, "reconnect": {}}
    for pipeline in (1, 16):
        order = ("kvservice", "redis") if pipeline == 1 else ("redis", "kvservice")
        for system in order:
            figures["stream"][f"{system} P{pipeline}"] = bench.redis_benchmark(
                ports[system], args.requests, args.clients, pipeline, options=("-r", "100000", *tls))
    reconnect_requests = max(1000, args.requests // 20)
    for system in ("kvservice", "redis"):
        figures["reconnect"][system] = bench.redis_benchmark(
            ports[system], reconnect_requests, args.clients, 1, tests=("get",),
            options=("-r", "100000", "-k", "0", *tls))  # fmt: skip
    figures["reconnect_requests"] = reconnect_requests
    figures["kvctl_bench"] = bench.kvctl_bench(cluster, args)
    return figures


def main(args, bench) -> int:
    if not bench.redis_tools_present():
        return 2
    if bench.shutil.which("openssl") is None:
        print("scripts/bench: --tls needs openssl (apt-get install openssl)", file=bench.sys.stderr)
        return 2
    bin_dir = os.path.abspath(args.bin) if args.bin else bench.build()
    work = bench.tempfile.mkdtemp(prefix="kvservice-bench-tls.")
    figures: dict = {"machine": bench.machine(), "command": " ".join(["scripts/bench", *bench.sys.argv[1:]])}
    started = time.monotonic()
    try:
        certificates = Certificates(os.path.join(work, "certificates"))
        for mode in ("plain", "tls"):
            print(f"{mode}: a cluster and a Redis pair ...", flush=True)
            run_dir = os.path.join(work, mode)
            os.makedirs(run_dir)
            with bench.Children() as children:
                cluster = bench.Cluster(bin_dir, run_dir, children, server_args=args.server_args,
                                        tls=certificates if mode == "tls" else None)  # fmt: skip
                cluster.start()
                figures[mode] = measure(bench, args, cluster)
    except (bench.BenchFailed, TimeoutError, subprocess.TimeoutExpired, RuntimeError) as error:
        print(f"scripts/bench: {error} (logs in {work})", file=bench.sys.stderr)
        return 1
    return bench.finish(figures, report(figures, bench), args, bin_dir, work, started)


def report(figures: dict, bench) -> list[str]:
    """Each system's TLS figure over its plain one; then kvservice over Redis under TLS."""
    rows = []
    plain, tls = figures["plain"], figures["tls"]

    def row(name: str, kv_plain: float, kv_tls: float, redis_plain: float, redis_tls: float, unit: str):
        rows.append((name, f"{kv_plain:,.{2 if unit == 'ms' else 0}f}", f"{kv_tls:,.{2 if unit == 'ms' else 0}f}",
                     f"{kv_tls / kv_plain:.2f}", f"{redis_plain:,.{2 if unit == 'ms' else 0}f}",
                     f"{redis_tls:,.{2 if unit == 'ms' else 0}f}", f"{redis_tls / redis_plain:.2f}",
                     f"{kv_tls / redis_tls:.2f}"))  # fmt: skip

    for pipeline in (1, 16):
        for test in ("SET", "GET"):
            kv = (plain["stream"][f"kvservice P{pipeline}"][test], tls["stream"][f"kvservice P{pipeline}"][test])
            redis = (plain["stream"][f"redis P{pipeline}"][test], tls["stream"][f"redis P{pipeline}"][test])
            row(f"{test} req/s -P {pipeline}", kv[0]["rps"], kv[1]["rps"], redis[0]["rps"], redis[1]["rps"], "rps")
            row(f"{test} p99 ms -P {pipeline}", kv[0]["p99_ms"], kv[1]["p99_ms"], redis[0]["p99_ms"],
                redis[1]["p99_ms"], "ms")  # fmt: skip
    kv = (plain["reconnect"]["kvservice"]["GET"], tls["reconnect"]["kvservice"]["GET"])
    redis = (plain["reconnect"]["redis"]["GET"], tls["reconnect"]["redis"]["GET"])
    row("GET req/s, a connection each (-k 0)", kv[0]["rps"], kv[1]["rps"], redis[0]["rps"], redis[1]["rps"], "rps")
    row("GET p99 ms, a connection each (-k 0)", kv[0]["p99_ms"], kv[1]["p99_ms"], redis[0]["p99_ms"],
        redis[1]["p99_ms"], "ms")  # fmt: skip
    kv_plain, kv_tls = plain["kvctl_bench"], tls["kvctl_bench"]
    rows.append((f"kvctl bench ops/s ({kv_plain['sessions']} sessions)", f"{kv_plain['ops_per_s']:,.0f}",
                 f"{kv_tls['ops_per_s']:,.0f}", f"{kv_tls['ops_per_s'] / kv_plain['ops_per_s']:.2f}", "", "", "", ""))  # fmt: skip
    put = (kv_plain["operations"]["put"]["p99_us"] / 1000, kv_tls["operations"]["put"]["p99_us"] / 1000)
    rows.append(("kvctl bench put p99 ms", f"{put[0]:.2f}", f"{put[1]:.2f}", f"{put[1] / put[0]:.2f}", "", "", "", ""))
    return bench.table(("measure", "kvservice plain", "kvservice TLS", "TLS/plain", "redis plain", "redis TLS",
                        "TLS/plain", "kvservice/redis, TLS"), rows)  # fmt: skip
