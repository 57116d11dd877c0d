"""The load of a chaos run (scripts/chaos): one kv-chaos-client process, its progress
lines followed live so the run can tell that the service serves again after a fault.
"""

import asyncio
import json
import re
import signal
import subprocess
import time

from chaos_cluster import Processes

_PROGRESS = re.compile(rb"progress ok=(\d+) unknown=(\d+) unexpected=(\d+)")


class LoadClient:
    def __init__(self, argv: list[str], log_path: str, processes: Processes, netns: str | None = None):
        self.argv = argv
        self.netns = netns
        self.log_path = log_path
        self.processes = processes
        self.process: asyncio.subprocess.Process | None = None
        self.ok = 0
        self.unknown = 0
        self.unexpected = 0
        # Bumped on every progress line, with the time it was read.
        self.reports = 0
        self.last_report_at = 0.0
        self._changed = asyncio.Condition()
        self._stdout = b""
        self._readers: list[asyncio.Task] = []

    async def start(self) -> None:
        self.process = await self.processes.spawn(
            self.argv, netns=self.netns, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self._readers = [
            asyncio.ensure_future(self._follow_progress()),
            asyncio.ensure_future(self._collect_stdout()),
        ]

    async def _collect_stdout(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        self._stdout = await self.process.stdout.read()

    async def _follow_progress(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        with open(self.log_path, "ab") as log:
            async for line in self.process.stderr:
                log.write(f"[{time.monotonic_ns()}] ".encode() + line)
                log.flush()
                match = _PROGRESS.search(line)
                if match:
                    async with self._changed:
                        self.ok, self.unknown, self.unexpected = (int(group) for group in match.groups())
                        self.reports += 1
                        self.last_report_at = time.monotonic()
                        self._changed.notify_all()

    async def served_since(self, since: float, timeout: float) -> bool:
        """Whether operations completed after `since` (time.monotonic()): two progress
        reports, both read after it, the later with more answered operations."""
        deadline = time.monotonic() + timeout
        baseline = None
        async with self._changed:
            while True:
                if self.last_report_at > since:
                    if baseline is None:
                        baseline = (self.reports, self.ok)
                    elif self.reports > baseline[0] and self.ok > baseline[1]:
                        return True
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.exited():
                    return False
                try:
                    await asyncio.wait_for(self._changed.wait(), timeout=remaining)
                except asyncio.TimeoutError:
                    return False

    def exited(self) -> bool:
        return self.process is None or self.process.returncode is not None

    async def stop(self, timeout: float) -> tuple[int | None, dict | None]:
        """Asks the client to stop (SIGTERM: it finishes its operations in flight, reads
        every key, writes the history) and waits; (exit status or None if it had to be
        killed, its JSON summary)."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(self.process.wait(), timeout=timeout)
        except asyncio.TimeoutError:
            self.process.kill()
            await self.process.wait()
            code = None
        await asyncio.gather(*self._readers, return_exceptions=True)
        self.processes.running.discard(self.process)
        try:
            summary = json.loads(self._stdout.decode(errors="replace").strip().splitlines()[-1])
        except (ValueError, IndexError):
            summary = None
        return code, summary
