"""How a benchmark stops: termination signals stop it as Ctrl-C does, and worker processes
follow a main process that died without stopping them.

``kill``, ``timeout``, systemd and cluster schedulers stop a process with SIGTERM, and a closed
terminal sends SIGHUP; by default either ends Python at once, so no ``finally`` runs and the
worker processes outlive it. :func:`signals_as_interrupts` turns them into :class:`Terminated`,
a ``KeyboardInterrupt``, so the cleanup that Ctrl-C runs (workers and the forkserver stopped,
Ray shut down, the finished runs kept) runs for them too, and the exit code is 128 + the
signal's number (143 for SIGTERM), as a shell reports a process ended by it.

A main process killed with SIGKILL (or by the out-of-memory killer) runs no cleanup at all.
:func:`exit_with_main` makes a worker exit within a moment of it: the worker watches the reading
end of a pipe whose only writing end the main process holds, which the system closes when that
process ends, however it ends. (A worker's parent is the forkserver, not the main process, so
its parent's id says nothing; and a pipe needs no polling and is not fooled by a main process
that is a zombie or a reused process id.)
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from types import FrameType

SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))
"""The signals that stop a benchmark as Ctrl-C does (SIGHUP where the system has it)."""


class Terminated(KeyboardInterrupt):
    """A termination signal received by the main process, raised like Ctrl-C.

    Attributes:
        signum: the signal's number (15 for SIGTERM).
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    def __str__(self) -> str:
        return signal_name(self.signum)


def signal_of(stop: BaseException) -> int:
    """The signal that raised ``stop``: its ``signum``, else SIGINT (Ctrl-C)."""
    return int(getattr(stop, "signum", signal.SIGINT))


def signal_name(signum: int) -> str:
    """``SIGTERM`` for 15, ..."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def describe_stop(stop: BaseException) -> str:
    """``interrupted`` (Ctrl-C) or ``stopped by SIGTERM`` (a signal)."""
    signum = signal_of(stop)
    return "interrupted" if signum == signal.SIGINT else f"stopped by {signal_name(signum)}"


def exit_code(stop: BaseException) -> int:
    """The exit code of a command stopped by ``stop``: 128 + its signal (130 for Ctrl-C, 143 for
    SIGTERM, 129 for SIGHUP)."""
    return 128 + signal_of(stop)


@contextmanager
def signals_as_interrupts(signals: tuple[int, ...] = SIGNALS) -> Iterator[None]:
    """Within the block, the first of ``signals`` raises :class:`Terminated` in the main thread;
    later ones are ignored, so the cleanup it started finishes (SIGKILL still ends the process,
    and the workers follow it, see :func:`exit_with_main`). The previous handlers are restored
    on leaving. Outside the main thread (where Python cannot set handlers) it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        if len(received) == 1:
            raise Terminated(signum)

    previous = {signum: signal.signal(signum, handler) for signum in signals}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def exit_with_main(main_alive: Connection) -> None:
    """In a worker process: exit at once when the main process ends, that is when the pipe
    ``main_alive`` reads from reaches its end (the main process holds its only writing end), or
    when the main process says goodbye on it (see :func:`release_workers`). A daemon thread
    waits for that; the worker's work goes on meanwhile."""

    def wait() -> None:
        try:  # one byte: the workers share the pipe, and a read of one byte is never split
            goodbye = os.read(main_alive.fileno(), 1)
        except OSError:
            goodbye = b""
        if not goodbye:
            print(
                f"intermodal worker {os.getpid()}: the benchmark's main process has ended; exiting",
                file=sys.stderr,
                flush=True,
            )
        os._exit(1)

    threading.Thread(target=wait, name="intermodal-exit-with-main", daemon=True).start()


def release_workers(alive: Connection, workers: int) -> None:
    """In the main process: make the ``workers`` that :func:`exit_with_main` watches through the
    other end of ``alive`` exit now (each reads one byte), and close it."""
    if workers and not alive.closed:
        with contextlib.suppress(OSError):  # no worker holds the other end any longer
            os.write(alive.fileno(), b"." * workers)
    alive.close()
