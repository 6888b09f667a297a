"""Start `tiertui` commands as real, separate processes, cheaply and at a chosen moment.

Importing tiertui costs over a second; the concurrency and crash tests start dozens of
commands, so this server imports everything once and then forks one child per command.
Each child is a separate OS process with its own database connections; it runs
``tiertui.cli.main(argv)`` exactly as the installed script does, with its stdout and stderr
sent to files, and exits with its status.

Protocol: one JSON object per line on stdin, one JSON answer per line on stdout.

    {"jobs": [{"argv": [...], "out": PATH, "err": PATH}, ...], "kill_after": SECONDS or null}

Every job of a request is forked first; the children then block on a start barrier (a pipe
that the server closes once all are forked), so they begin at the same moment. With
``kill_after``, each child still running that many seconds after the start gets SIGKILL.
The answer lists, per job, ``{"pid", "status", "signal", "seconds"}`` (``status`` None when
killed by a signal).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

# Everything a command needs, imported before any fork (no engine is ever opened here).
import tiertui.cli  # noqa: E402
import tiertui.services.demo  # noqa: F401,E402
import tiertui.services.imports  # noqa: F401,E402
import tiertui.services.levelling  # noqa: F401,E402
import tiertui.services.overrides  # noqa: F401,E402
import tiertui.storage  # noqa: F401,E402


def _child(job: dict, barrier_read: int) -> None:
    try:
        os.read(barrier_read, 1)  # EOF once every child of the request is forked
        os.close(barrier_read)
        out = os.open(job["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        err = os.open(job["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(out, 1)
        os.dup2(err, 2)
        sys.stdin = open(os.devnull)
        status = tiertui.cli.main(job["argv"])
    except SystemExit as exc:  # argparse
        status = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - report, never fall back into the server loop
        import traceback

        traceback.print_exc()
        status = 99
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(int(status or 0))


def _serve(request: dict) -> list[dict]:
    jobs = request["jobs"]
    kill_after = request.get("kill_after")
    barrier_read, barrier_write = os.pipe()
    pids = []
    for job in jobs:
        pid = os.fork()
        if pid == 0:
            os.close(barrier_write)
            _child(job, barrier_read)
        pids.append(pid)
    os.close(barrier_read)
    started = time.monotonic()
    os.close(barrier_write)  # the start barrier: every child wakes now
    results: dict[int, dict] = {}
    killed = False
    while len(results) < len(pids):
        if kill_after is not None and not killed and time.monotonic() - started >= kill_after:
            for pid in pids:
                if pid not in results:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            killed = True
        pid, wait_status = os.waitpid(-1, os.WNOHANG if kill_after is not None and not killed else 0)
        if pid == 0:
            time.sleep(0.002)
            continue
        if pid in pids:
            results[pid] = {
                "pid": pid,
                "status": os.waitstatus_to_exitcode(wait_status) if os.WIFEXITED(wait_status) else None,
                "signal": os.WTERMSIG(wait_status) if os.WIFSIGNALED(wait_status) else None,
                "seconds": time.monotonic() - started,
            }
    return [results[pid] for pid in pids]


def main() -> None:
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        print(json.dumps(_serve(json.loads(line))), flush=True)


if __name__ == "__main__":
    main()


class ForkServer:
    """The tests' side: start this file as a process and send it requests."""

    def __init__(self, cwd: str | None = None) -> None:
        import subprocess

        self.proc = subprocess.Popen(
            [sys.executable, __file__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=cwd,
        )
        assert json.loads(self.proc.stdout.readline()) == {"ready": True}

    def run(self, jobs: list[dict], kill_after: float | None = None) -> list[dict]:
        self.submit(jobs, kill_after)
        return self.result()

    def submit(self, jobs: list[dict], kill_after: float | None = None) -> None:
        """Start a request without waiting for it; :meth:`result` waits."""
        self.proc.stdin.write(json.dumps({"jobs": jobs, "kill_after": kill_after}) + "\n")
        self.proc.stdin.flush()

    def result(self) -> list[dict]:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the fork server died")
        return json.loads(line)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
