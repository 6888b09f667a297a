"""`tiertui serve`: the same app in a web browser, through textual-serve (issue 15).

Each browser session starts its own ``tiertui`` process (textual-serve runs the command once per
session), acting as the person who started the server. The database URL and the person reach
that process through the environment, never on its command line (a password in a URL must not
show up in a process list or in the page's title). Each session's app checks the person's role
when it starts, as ``tiertui`` in a terminal does: on a team database a session of someone who is
not (or no longer) a user of the database closes with the message that says who can add them.
"""

from __future__ import annotations

import ipaddress
import os
import shlex
import sys

from sqlalchemy.engine import Engine

from .cli import say
from .locations import ENV_URL
from .storage import redact

ENV_USER = "TIERTUI_USER"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(url: str, user: str, host: str, port: int, engine: Engine) -> int:
    from textual_serve.server import Server

    os.environ[ENV_URL] = url
    os.environ[ENV_USER] = user
    command = f"{shlex.quote(sys.executable)} -m tiertui"
    where = f"http://{host}:{port}" if ":" not in host else f"http://[{host}]:{port}"
    say(f"Serving tiertui on {where} ({redact(url)}), as {user}.")
    say(
        f"Warning: anyone who can reach {host}:{port} uses tiertui as {user}, with {user}'s role. "
        + (
            "It listens on this machine only (127.0.0.1)."
            if _loopback(host)
            else "This address can be reached from other machines: prefer 127.0.0.1 and an SSH tunnel."
        )
    )
    say("Press ctrl+c to stop.")
    sys.stdout.flush()
    engine.dispose()
    Server(command, host=host, port=port, title="tiertui").serve()
    return 0
