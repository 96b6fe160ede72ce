"""Hold N WebSockets open until a release file appears, then echo on every one of them again.

The reload test's client. ``wsclient.py --hold N --hold-seconds S`` holds for a fixed time, but the role
run the connections must outlive takes 30 s on a quiet machine and over 100 s on a busy one; this holds
exactly as long as the test needs. It is ``wsclient.hold`` (tests/support/wsclient.py, mounted at
/opt/wsproxy, on the WebSocket codec mounted at /opt/wsproxy-codec) with a release file for a timer, and
prints its JSON object plus ``released`` (the release file appeared before ``--max-seconds``) and
``held_seconds``.

    hold_until.py ws://api.example.test/api/frontend-audio 200 /tmp/release [--max-seconds 600] [--cafile CA]

(molecule/acme holds wss:// WebSockets with it through a certificate renewal, verified with --cafile.)
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
from wsclient import hold

CONCURRENT_HANDSHAKES = 100
TIMEOUT = 20.0


async def hold_until(
    url: str, count: int, release: str, max_seconds: float, cafile: str | None = None
) -> dict[str, Any]:
    waited: dict[str, Any] = {}

    async def released() -> None:
        opened_at = time.monotonic()
        while not os.path.exists(release) and time.monotonic() - opened_at < max_seconds:
            await asyncio.sleep(0.2)
        waited.update(released=os.path.exists(release), held_seconds=round(time.monotonic() - opened_at, 1))

    result = await hold(
        url, count, max_seconds, cafile=cafile, timeout=TIMEOUT, concurrency=CONCURRENT_HANDSHAKES, wait=released
    )
    return {**result, **waited}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("count", type=int)
    parser.add_argument("release", help="echo again and close once this file exists")
    parser.add_argument("--max-seconds", type=float, default=600.0, help="release anyway after this long")
    parser.add_argument("--cafile", help="with wss://: CA bundle (PEM) to verify nginx's certificate with")
    args = parser.parse_args()
    result = asyncio.run(hold_until(args.url, args.count, args.release, args.max_seconds, args.cafile))
    print(json.dumps(result), flush=True)
    return 0 if result["echoed_after"] == args.count and result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
