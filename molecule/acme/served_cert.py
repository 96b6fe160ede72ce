"""The certificate nginx serves for a server name (SNI), as one JSON object; run on the proxy (standard library and
the openssl command).

    served_cert.py NAME --root ROOT.pem [--port 443]
    served_cert.py --fetch-root https://pebble:15000/roots/0 --cafile CA.pem --out ROOT.pem

The first form shakes hands twice: once without verification, to read the leaf (serial, issuer, names, key, from
`openssl x509 -text`), and once verifying the chain nginx sends against ROOT (Pebble's root, which no trust store
has) and the name, as a client would; `verified` is true or `verify_error` says why not. The second form saves
Pebble's current root from its management interface (itself HTTPS, trusted through CA.pem).
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import ssl
import subprocess
import sys
import urllib.request
from typing import Any

TIMEOUT = 10.0


def leaf_der(name: str, port: int) -> bytes:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((name, port), timeout=TIMEOUT) as sock:
        with context.wrap_socket(sock, server_hostname=name) as tls:
            der = tls.getpeercert(binary_form=True)
    if not der:
        raise SystemExit(f"{name}:{port} sent no certificate")
    return der


def verify(name: str, port: int, root: str) -> str | None:
    """None when the chain nginx sends verifies against root for this name, else the error."""
    context = ssl.create_default_context(cafile=root)
    try:
        with socket.create_connection((name, port), timeout=TIMEOUT) as sock:
            with context.wrap_socket(sock, server_hostname=name):
                return None
    except (ssl.SSLError, ssl.CertificateError) as exc:
        return f"{type(exc).__name__}: {exc}"


def describe(der: bytes) -> dict[str, Any]:
    text = subprocess.run(
        ["openssl", "x509", "-inform", "DER", "-noout", "-serial", "-issuer", "-text"],
        input=der,
        capture_output=True,
        check=True,
    ).stdout.decode()
    curve = re.search(r"ASN1 OID: (\S+)", text)
    bits = re.search(r"Public-Key: \((\d+) bit\)", text)
    return {
        "serial": re.search(r"^serial=(\S+)", text, re.MULTILINE)[1],
        "issuer": re.search(r"^issuer=(.*)$", text, re.MULTILINE)[1].strip(),
        "names": sorted(re.findall(r"DNS:([^,\s]+)", text)),
        "key_algorithm": re.search(r"Public Key Algorithm: (\S+)", text)[1],
        "curve": curve[1] if curve else None,
        "key_bits": int(bits[1]) if bits else None,
        "not_after": re.search(r"Not After : (.*)$", text, re.MULTILINE)[1].strip(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", help="server name to connect to and send as SNI")
    parser.add_argument("--port", type=int, default=443)
    parser.add_argument("--root", help="the CA root to verify the served chain against")
    parser.add_argument("--fetch-root", metavar="URL", help="save the root at URL (with --cafile, --out) instead")
    parser.add_argument("--cafile", help="with --fetch-root: CA bundle that URL's HTTPS is verified with")
    parser.add_argument("--out", help="with --fetch-root: where to save it")
    args = parser.parse_args()
    if args.fetch_root:
        context = ssl.create_default_context(cafile=args.cafile)
        with urllib.request.urlopen(args.fetch_root, context=context, timeout=TIMEOUT) as answer:
            pem = answer.read()
        with open(args.out, "wb") as handle:
            handle.write(pem)
        print(json.dumps({"root": args.out, "bytes": len(pem)}))
        return 0
    if not args.name or not args.root:
        parser.error("NAME and --root are needed")
    result = describe(leaf_der(args.name, args.port))
    error = verify(args.name, args.port, args.root)
    result.update(name=args.name, verified=error is None, verify_error=error)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
