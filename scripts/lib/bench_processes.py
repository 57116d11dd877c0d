"""Child processes of scripts/bench, and bounded waiting for a condition.

Every child is started in its own session (a Ctrl-C in the terminal reaches only
scripts/bench, which then stops everything itself) and dies with scripts/bench even if
that is killed outright (PR_SET_PDEATHSIG).
"""

import subprocess
import time

from chaos_cluster import die_with_parent


class Children:
    """Every process started for the run; all are killed when the `with` block ends."""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen] = []

    def spawn(self, argv: list[str], log_path: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        """Starts argv with its output appended to log_path; `env` replaces the environment."""
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                preexec_fn=die_with_parent, env=env,
            )  # fmt: skip
        self.processes.append(process)
        return process

    def __enter__(self) -> "Children":
        return self

    def __exit__(self, *_) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass


def wait_until(condition, timeout: float, what: str, interval: float = 0.02) -> None:
    """Polls `condition` until it holds; TimeoutError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout:g} s waiting for {what}")
        time.sleep(interval)
