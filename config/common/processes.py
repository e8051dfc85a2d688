"""Child processes that leave nothing behind: what run_stack and run_worker use to start and stop theirs.

Each child starts in its own session (or process group) so a signal aimed at it reaches nothing else, and
everything it forks stays findable by that id even after its parent died (django-q2's workers outlive a killed
sentinel; they keep its process group and session). Stopping = SIGTERM to the child (it stops its own children
in order), then, after a grace period, SIGKILL to every process still in its session or group.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

logger = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM when the process that started it dies, even by SIGKILL (no orphans)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def processes_in(*, session: int | None = None, group: int | None = None) -> list[int]:
    """Live (not zombie) pids in a session or process group, read from /proc (Linux)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, pgrp, sid = fields[0], int(fields[2]), int(fields[3])
        if state != "Z" and (sid == session or pgrp == group):
            pids.append(int(entry.name))
    return pids


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    own_session: bool  # True: a new session (and group); False: a new process group in our session

    @property
    def pid(self) -> int:
        return self.proc.pid

    def members(self) -> list[int]:
        """The child and everything it started that is still running (orphans included)."""
        self.proc.poll()  # reap it if it exited, so it is not counted as a zombie-in-waiting
        if sys.platform.startswith("linux"):
            if self.own_session:
                return processes_in(session=self.pid)
            return processes_in(group=self.pid)
        try:
            os.killpg(self.pid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [self.pid]

    def kill_all(self) -> None:
        members = self.members()
        _signal_all(members, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        self.proc.poll()


class Launcher:
    """Starts children and stops all of them, each with SIGTERM then SIGKILL after `grace` seconds."""

    def __init__(self, *, grace: float) -> None:
        self.grace = grace
        self.children: list[Child] = []

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        own_session: bool = True,
        stdout: IO[bytes] | None = None,
        stderr: IO[bytes] | None = None,
    ) -> Child:
        proc = subprocess.Popen(  # noqa: S603 - argv comes from our own commands, never from input
            list(argv),
            env=dict(env) if env is not None else None,
            cwd=cwd,
            stdout=stdout,
            stderr=stderr,
            start_new_session=own_session,
            process_group=None if own_session else 0,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        child = Child(name, proc, own_session)
        self.children.append(child)
        return child

    def exited(self) -> list[Child]:
        return [c for c in self.children if c.proc.poll() is not None]

    def stop(self, child: Child, *, grace: float | None = None) -> None:
        """SIGTERM the child itself; after the grace period SIGKILL whatever of its session/group is left."""
        self.stop_all([child], grace=grace)
        if child in self.children:
            self.children.remove(child)

    def stop_all(self, children: list[Child] | None = None, *, grace: float | None = None) -> None:
        children = list(reversed(self.children)) if children is None else children
        for child in children:
            if child.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    child.proc.terminate()
        deadline = time.monotonic() + (self.grace if grace is None else grace)
        while time.monotonic() < deadline and any(c.members() for c in children):
            time.sleep(0.1)
        for child in children:
            left = child.members()
            if left:
                logger.warning("%s: %d process(es) left after the grace period: SIGKILL", child.name, len(left))
                child.kill_all()
        for child in children:
            try:
                child.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                logger.error("%s (pid %d) did not exit after SIGKILL", child.name, child.pid)
