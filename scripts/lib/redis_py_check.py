#!/usr/bin/env python3
"""kv-server's Redis-protocol endpoint through redis-py, the most used Python client.

Run by SystemdTests' RedisPyTests against a real kv-server pair (or by hand):

    redis_py_check.py --primary-port P --backup-port B --primary-pid PID

Every check runs with RESP2 and with RESP3 (HELLO 3, `protocol=3`); then the primary is
killed (SIGKILL) and the backup, once promoted, must serve the same data, less a key
that expired before the failover. Prints one line per check and "N passed, N failed";
exits 1 if any check failed.
"""

import argparse
import os
import signal
import sys
import time

import redis

results = {"passed": 0, "failed": 0}


def check(name, got, expected):
    if got == expected:
        results["passed"] += 1
        print(f"ok   {name}")
    else:
        results["failed"] += 1
        print(f"FAIL {name}: got {got!r}, expected {expected!r}")


def wait_until(what, condition, timeout=20.0):
    """Polls condition() until it is true; an exception counts as not yet."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (redis.exceptions.RedisError, OSError) as error:
            last = error
        time.sleep(0.05)
    raise SystemExit(f"timed out after {timeout} s waiting until {what} (last error: {last!r})")


def exercise(r, protocol):
    p = f"resp{protocol}:"
    r.flushall()
    check(p + "set ex", r.set(p + "a", "1", ex=100), True)
    check(p + "ttl", r.ttl(p + "a") in (99, 100), True)
    check(p + "set nx on an existing key", r.set(p + "a", "2", nx=True), None)
    check(p + "set nx on a new key", r.set(p + "b", "2", nx=True), True)
    check(p + "get", r.get(p + "a"), "1")
    check(p + "mset", r.mset({p + "x": "1", p + "y": "2"}), True)
    check(p + "mget", r.mget(p + "x", p + "y", p + "missing"), ["1", "2", None])
    check(p + "incr", r.incr(p + "n"), 1)
    check(p + "incrby", r.incrby(p + "n", 41), 42)
    check(p + "incrbyfloat", r.incrbyfloat(p + "f", 2.5), 2.5)
    check(p + "expire", r.expire(p + "n", 50), True)
    check(p + "ttl after expire", r.ttl(p + "n") in (49, 50), True)
    check(p + "pttl of a key without deadline", r.pttl(p + "x"), -1)
    check(p + "persist", r.persist(p + "n"), True)
    check(p + "getdel", r.getdel(p + "y"), "2")
    check(p + "getdel of a missing key", r.getdel(p + "y"), None)
    check(p + "exists", r.exists(p + "a", p + "b", p + "y"), 2)
    try:
        r.incr(p + "f")
        check(p + "incr of a float fails", "no error", "an error")
    except redis.exceptions.ResponseError as error:
        check(p + "incr of a float fails", str(error), "value is not an integer or out of range")
    keys = {f"{p}user:{i}" for i in range(37)}
    r.mset({key: "v" for key in keys})
    check(p + "scan_iter", set(r.scan_iter(match=p + "user:*", count=5)), keys)
    check(p + "keys", set(r.keys(p + "user:*")), keys)
    check(p + "dbsize", r.dbsize(), len(keys) + 5)

    pipe = r.pipeline()  # transaction=True: MULTI ... EXEC
    pipe.set(p + "t", "1").incr(p + "t").get(p + "t").set(p + "t", "x", nx=True).ttl(p + "t")
    check(p + "pipeline (MULTI/EXEC)", pipe.execute(), [True, 2, "2", None, -1])

    # WATCH: a change by another client between WATCH and EXEC aborts, and the retry works.
    other = redis.Redis(port=r.connection_pool.connection_kwargs["port"], protocol=protocol, decode_responses=True)
    with r.pipeline() as pipe:
        pipe.watch(p + "t")
        value = int(pipe.get(p + "t"))
        other.incr(p + "t")
        pipe.multi()
        pipe.set(p + "t", value + 10)
        try:
            pipe.execute()
            check(p + "watch aborts after a change", "executed", "aborted")
        except redis.exceptions.WatchError:
            check(p + "watch aborts after a change", "aborted", "aborted")
    check(p + "the other client's increment stands", r.get(p + "t"), "3")
    other.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--primary-port", type=int, required=True)
    parser.add_argument("--backup-port", type=int, required=True)
    parser.add_argument("--primary-pid", type=int, required=True)
    args = parser.parse_args()
    print(f"redis-py {redis.__version__}")

    for protocol in (2, 3):
        r = redis.Redis(port=args.primary_port, protocol=protocol, decode_responses=True)
        if protocol == 3:
            check("HELLO 3 answered a map", r.execute_command("HELLO", 3)["proto"], 3)
        exercise(r, protocol)
        r.close()

    r = redis.Redis(port=args.primary_port, protocol=3, decode_responses=True)
    r.set("kept", "across the failover", ex=1000)
    r.set("counter", 41)
    r.set("short", "gone", px=300)
    deadline = r.pexpiretime("short")
    r.close()
    wait_until("the short key's deadline has passed", lambda: time.time() * 1000 > deadline)

    os.kill(args.primary_pid, signal.SIGKILL)
    promoted = redis.Redis(port=args.backup_port, protocol=3, decode_responses=True)
    wait_until("the backup serves as primary", lambda: promoted.get("kept") is not None)
    check("failover: the value", promoted.get("kept"), "across the failover")
    check("failover: the deadline", 990 <= promoted.ttl("kept") <= 1000, True)
    check("failover: the expired key stays gone", promoted.get("short"), None)
    check("failover: incr on the new primary", promoted.incr("counter"), 42)
    promoted.close()

    print(f"{results['passed']} passed, {results['failed']} failed")
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
