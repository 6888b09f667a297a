"""Run the installed ``tiertui`` script as a user runs it: a real process, its own environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TIERTUI = str(Path(sys.executable).with_name("tiertui"))


def tiertui(*args, env=None, user="ann", check=True, cwd=None):
    full_env = {**os.environ, "TIERTUI_USER": user, **(env or {})}
    proc = subprocess.run([TIERTUI, *args], capture_output=True, text=True, env=full_env, cwd=cwd)
    if check and proc.returncode != 0:
        raise AssertionError(f"tiertui {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return proc
