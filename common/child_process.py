"""Child processes that never outlive the process that started them.

`die_with_parent` is a `preexec_fn` for `subprocess.Popen`: Linux's
PR_SET_PDEATHSIG sends the child SIGTERM when its parent dies, even by
`kill -9`, so `make run` or a test killed hard leaves no Redis, Rasa or action
server behind (each then stops as on Ctrl-C). Elsewhere it does nothing.
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)
