"""A TCP proxy standing for one network link of a chaos run (scripts/chaos), which the
run can cut or make lossy without root, network namespaces or netem.

scripts/chaos puts two of these in front of each kv-server: one that the server
advertises (clients and the primary's forwards reach the server through it) and one
that the server uses as its monitor address (its pings leave through it). So cutting
one proxy cuts exactly one link: the primary's monitor proxy cut off leaves it talking
to its backup and clients, but not to the monitor.

Faults are TCP's view of a bad network, not byte corruption:
- cut: nothing is relayed in either direction and new connections get no further than
  the handshake. What was sent stays in the socket buffers, as unacknowledged segments
  stay with their sender, and is delivered, late and in order, when the link heals:
  a partitioned primary's old pings and forwards do arrive after the partition.
- lossy: each chunk of data is, with some probability, held for a retransmission delay
  (later chunks of that direction wait behind it, as with TCP), or lost together with
  its connection, which is reset (a request or a reply that never arrives, so the
  client retries it: the at-most-once case).
"""

import asyncio
import random


class FaultProxy:
    """Relays connections on 127.0.0.1:port to `upstream`, with faults on demand."""

    def __init__(self, name: str, upstream: tuple[str, int], rng: random.Random):
        self.name = name
        self.upstream = upstream
        self.rng = rng
        self.port = 0
        self._server: asyncio.base_events.Server | None = None
        # Set while the link carries data; cleared while it is cut.
        self._open = asyncio.Event()
        self._open.set()
        self._loss: tuple[float, float] | None = None  # (delay probability, reset probability)
        self._transports: set[asyncio.BaseTransport] = set()
        self.counters = {"connections": 0, "delayed": 0, "reset": 0}

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def cut(self) -> None:
        self._open.clear()

    def make_lossy(self, delay_probability: float, reset_probability: float) -> None:
        self._loss = (delay_probability, reset_probability)

    def heal(self) -> None:
        self._loss = None
        self._open.set()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for transport in list(self._transports):
            transport.abort()
        self._transports.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.counters["connections"] += 1
        self._transports.add(writer.transport)
        upstream_writer = None
        try:
            # A cut link lets the handshake complete (the kernel does that) but nothing else.
            await self._open.wait()
            try:
                upstream_reader, upstream_writer = await asyncio.wait_for(
                    asyncio.open_connection(*self.upstream), timeout=2
                )
            except (OSError, asyncio.TimeoutError):
                return  # the daemon is down: the client sees its connection closed
            self._transports.add(upstream_writer.transport)
            pumps = [
                asyncio.ensure_future(self._pump(reader, upstream_writer)),
                asyncio.ensure_future(self._pump(upstream_reader, writer)),
            ]
            # The protocol never half-closes: when one side is done, so is the connection.
            _, pending = await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            for pump in pending:
                pump.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        finally:
            for side in (writer, upstream_writer):
                if side is not None:
                    side.transport.abort()
                    self._transports.discard(side.transport)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    return
                await self._open.wait()
                if self._loss is not None:
                    delay_probability, reset_probability = self._loss
                    roll = self.rng.random()
                    if roll < reset_probability:
                        self.counters["reset"] += 1
                        return  # this chunk is lost, and the connection with it
                    if roll < reset_probability + delay_probability:
                        self.counters["delayed"] += 1
                        await asyncio.sleep(self.rng.uniform(0.05, 0.6))
                        await self._open.wait()
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            return
