"""The benchmark's backend (tests/support/ws_backend.py) with TLS of its own: the "direct wss" baseline.

    tls_backend.py --cert server.pem --key server.key [ws_backend.py's options: --host, --port, ...]

The round-trip figure (bench/README.md, figure 2) compares wss through nginx with a WebSocket straight to
the backend. Over TLS that mixes two costs: nginx's hop and TLS itself (the client encrypting and
decrypting, someone terminating). This serves the same echo backend over TLS, terminated by Python's ssl
module in the backend process, so "wss through nginx vs direct wss" shows the hop with TLS on both sides.
Python's asyncio TLS costs more CPU than nginx's, so this baseline is, if anything, slow: a ratio against it
flatters nginx a little. Python standard library only; it runs in the lab container beside ws_backend.py.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import ssl
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--support", default="/opt/wsproxy", help="where ws_backend.py is (tests/support)")
    args, rest = parser.parse_known_args(argv)
    sys.path.insert(0, str(Path(args.support)))
    import ws_backend

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert, args.key)
    context.set_alpn_protocols(["http/1.1"])
    # ws_backend.serve() calls asyncio.start_server(...): give every server it starts this TLS context.
    asyncio.start_server = functools.partial(asyncio.start_server, ssl=context)  # type: ignore[assignment]
    return ws_backend.main(rest)


if __name__ == "__main__":
    sys.exit(main())
