"""Hold N WebSockets open until a release file appears, then echo on every one of them again.

The reload test's client. ``wsclient.py --hold N --hold-seconds S`` holds for a fixed time, but the role
run the connections must outlive takes 30 s on a quiet machine and over 100 s on a busy one; this holds
exactly as long as the test needs. It uses tests/support/wsclient.py (mounted at /opt/wsproxy) as a
library and prints one JSON object shaped like ``wsclient.py --hold``'s, plus ``released`` (the release
file appeared before ``--max-seconds``) and ``held_seconds``.

    hold_until.py ws://api.example.test/api/frontend-audio 200 /tmp/release [--max-seconds 600]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.environ.get("WSCLIENT_DIR", "/opt/wsproxy"))
from wsclient import AsyncConnection, WebSocketError, parse_url

CONCURRENT_HANDSHAKES = 100
TIMEOUT = 20.0


async def hold_until(url: str, count: int, release: str, max_seconds: float) -> dict[str, Any]:
    target = parse_url(url, None)
    gate = asyncio.Semaphore(CONCURRENT_HANDSHAKES)
    result: dict[str, Any] = {"url": url, "requested": count, "opened": 0, "errors": 0, "error_samples": []}
    result.update(echoed_before=0, echoed_after=0)
    connections: list[AsyncConnection | None] = [None] * count
    errors = (OSError, WebSocketError, asyncio.TimeoutError, asyncio.IncompleteReadError)

    def failed(index: int, stage: str, exc: BaseException) -> None:
        connections[index] = None
        result["errors"] += 1
        if len(result["error_samples"]) < 5:
            result["error_samples"].append(f"{stage}: {type(exc).__name__}: {exc}")

    async def echo(index: int, phase: str) -> None:
        conn = connections[index]
        if conn is None:
            return
        try:
            if not await conn.echo(f"hold-{index}-{phase}", TIMEOUT):
                raise WebSocketError("echo differs")
            result[f"echoed_{phase}"] += 1
        except errors as exc:
            conn.writer.close()
            failed(index, f"echo {phase}", exc)

    async def open_one(index: int) -> None:
        async with gate:
            try:
                opening = AsyncConnection.open(target, origin=None, headers=None, ssl_context=None,
                                               server_hostname=None)
                connections[index] = await asyncio.wait_for(opening, TIMEOUT)
            except errors as exc:
                failed(index, "open", exc)
                return
            result["opened"] += 1
        await echo(index, "before")

    await asyncio.gather(*(open_one(index) for index in range(count)))
    opened_at = time.monotonic()
    while not os.path.exists(release) and time.monotonic() - opened_at < max_seconds:
        await asyncio.sleep(0.2)
    result["released"] = os.path.exists(release)
    result["held_seconds"] = round(time.monotonic() - opened_at, 1)
    await asyncio.gather(*(echo(index, "after") for index in range(count)))
    await asyncio.gather(*(conn.close(TIMEOUT) for conn in connections if conn is not None))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("count", type=int)
    parser.add_argument("release", help="echo again and close once this file exists")
    parser.add_argument("--max-seconds", type=float, default=600.0, help="release anyway after this long")
    args = parser.parse_args()
    result = asyncio.run(hold_until(args.url, args.count, args.release, args.max_seconds))
    print(json.dumps(result), flush=True)
    return 0 if result["echoed_after"] == args.count and result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
