#!/usr/bin/env python3
"""Sends the same commands to a real Redis server and to kv-server's Redis-protocol endpoint,
one connection each, and compares the replies byte for byte, in RESP2 and then RESP3.

Run by SystemdTests' RedisDifferentialTests (or by hand):

    redis_differential.py --redis-port R --kvservice-port K

Only HELLO's reply may differ (Redis's version and connection id): it is compared by its
type and size. Prints every other difference and "N passed, N failed"; exits 1 on any.
Needs nothing beyond Python's standard library.
"""

import argparse
import shlex
import socket
import sys

# Each line is one command, split as a shell splits words. The keys they touch start
# absent (FLUSHALL first); the order matters, as in a Redis session. INCRBYFLOAT's sums
# are exact in binary: Redis adds long doubles and prints 17 decimals (10.5 + 0.1 is
# "10.59999999999999999" there), kvservice adds doubles and prints the shortest text.
COMMANDS = [
 "FLUSHALL", "SET a 1", "SET a 2 NX", "SET a 3 XX GET", "SET b x XX", "SET b x NX GET", "SET a 4 NX GET", "SET a 5 bogus",
 "SET a 5 EX 0", "SET a 5 EX -1", "SET a 5 EX abc", "SET a 5 PX 10 EX 3", "SET a 5 KEEPTTL EX 3", "SET a 5 EX", "SET a 5 NX XX",
 "SET a 5 GET GET", "SETNX b y", "SETNX c y", "SETEX e 100 v", "SETEX e 0 v", "SETEX e x v", "PSETEX p 100000 v", "GETSET c z", "GETDEL c", "GETDEL c",
 "GETEX a EX 200", "GETEX a PERSIST", "GETEX a NX", "GETEX a EX 0", "GETEX nothing EX 10", "GETEX a KEEPTTL", "MSET m1 1 m2 2", "MSET m1", "MSET m1 1 m2",
 "MGET m1 nothing m2", "MSETNX m2 x m3 x", "MSETNX m3 3 m4 4", "APPEND s Hello", "APPEND s ' World'", "STRLEN s", "STRLEN nothing",
 "GETRANGE s 0 4", "GETRANGE s -5 -1", "GETRANGE s 5 3", "GETRANGE s -1 -5", "GETRANGE s x 1", "GETRANGE nothing 0 -1",
 "INCR n", "INCRBY n 10", "DECR n", "DECRBY n 3", "INCR s", "INCRBY n x", "INCRBY n 1.5", "INCRBY n +1", "INCRBY n 01",
 "SET max 9223372036854775807", "INCR max", "DECRBY n -9223372036854775808", "SET min -9223372036854775808", "DECR min",
 "INCRBYFLOAT f 10.5", "INCRBYFLOAT f 0.25", "INCRBYFLOAT s 1", "INCRBYFLOAT f abc", "INCRBYFLOAT f 2.5e2", "INCRBYFLOAT g 3.0e3", "INCRBYFLOAT f inf",
 "SET sp ' 5'", "INCR sp", "SET z 007", "INCR z", "INCRBYFLOAT z 1",
 "EXISTS a b nothing a", "TYPE a", "TYPE nothing", "TTL a", "TTL nothing", "PTTL nothing",
 "EXPIRE a 100", "EXPIRE a 200 NX", "EXPIRE a 50 GT", "EXPIRE a 300 GT", "EXPIRE b 300 XX", "EXPIRE b 300 LT", "EXPIRE nothing 10",
 "EXPIRE a 1 NX XX", "EXPIRE a 1 GT LT", "EXPIRE a 1 foo", "EXPIRE a x", "EXPIRE a 9223372036854776", "PEXPIRE a 9223372036854775807",
 "EXPIRE a 1 nx gt", "EXPIRE b 100 XX LT", "SET xl v", "EXPIRE xl 100 XX LT", "TTL xl", "EXPIRE xl 200", "EXPIRE xl 100 LT XX", "TTL xl", "EXPIRE xl 150 XX LT", "TTL xl", "TTL a", "PERSIST a", "PERSIST a", "PEXPIREAT m3 4102444800000", "PEXPIRETIME m3", "EXPIRETIME m3", "EXPIRETIME a", "EXPIRETIME nothing",
 "RENAME m3 m5", "PEXPIRETIME m5", "RENAME nothing k5", "RENAMENX m5 a", "RENAMENX m5 m6", "RENAME m6 m6", "RENAMENX m6 m6", "RENAMENX nothing x",
 "DEL m6 nothing", "UNLINK b", "DEL", "EXPIRE a -1", "EXISTS a", "EXPIREAT m1 1", "EXISTS m1",
 "SCAN abc", "SCAN 0 COUNT 0", "SCAN 0 COUNT", "SCAN 0 COUNT x", "SCAN 0 FOO bar",
 "FLUSHDB NOW", "FLUSHALL ASYNC", "DBSIZE", "RANDOMKEY", "KEYS *",
 "MULTI", "SET t 1", "INCR t", "GET t", "SET t x NX", "TTL t", "PING", "ECHO hi", "EXEC",
 "MULTI", "SET t 1 bogus", "INCR t", "EXEC",
 "MULTI", "NOSUCH x", "EXEC", "EXEC", "DISCARD", "MULTI", "MULTI", "WATCH t", "DISCARD",
 "WATCH t", "SET t 5", "MULTI", "GET t", "EXEC", "UNWATCH", "MULTI", "EXEC",
 "PING a b", "ECHO", "SELECT x", "HELLO 4", "HELLO x", "HELLO 3 AUTH u", "AUTH a b c",
 "HELLO 3", "GET nothing", "MGET a nothing", "MULTI", "GET nothing", "EXEC", "CONFIG GET save",
 "WATCH t", "SET t 6", "MULTI", "GET t", "EXEC",
]

# Replies compared by their first line only (a type and a size).
LOOSE = {"HELLO 3"}


def encode(words):
    parts = [word.encode() for word in words]
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(part), part) for part in parts)


def read_reply(stream):
    """One whole reply, as the bytes the server sent."""
    line = stream.readline()
    kind = line[:1]
    if kind in b"$=":
        length = int(line[1:-2])
        return line if length < 0 else line + stream.read(length + 2)
    if kind in b"*%~>":
        count = int(line[1:-2])
        if count < 0:
            return line
        elements = 2 * count if kind == b"%" else count
        return line + b"".join(read_reply(stream) for _ in range(elements))
    return line


def replies(port):
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        stream = connection.makefile("rb")
        answers = []
        for command in COMMANDS:
            connection.sendall(encode(shlex.split(command)))
            answers.append(read_reply(stream))
        return answers


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis-port", type=int, required=True)
    parser.add_argument("--kvservice-port", type=int, required=True)
    args = parser.parse_args()
    passed = failed = 0
    for command, redis, kvservice in zip(COMMANDS, replies(args.redis_port), replies(args.kvservice_port)):
        same = redis.split(b"\r\n")[0] == kvservice.split(b"\r\n")[0] if command in LOOSE else redis == kvservice
        if same:
            passed += 1
        else:
            failed += 1
            print(f"DIFFERENT {command!r}\n  redis:     {redis!r}\n  kvservice: {kvservice!r}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
