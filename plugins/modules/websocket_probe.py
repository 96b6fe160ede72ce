#!/usr/bin/python
# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Open a WebSocket from the managed host, echo one frame, and say in words what failed."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: websocket_probe
short_description: Open a WebSocket, echo one frame, and diagnose what failed in words
version_added: 0.1.0
description:
  - "Opens O(url) (V(ws://) or V(wss://)) from the managed host the way a browser does (an HTTP/1.1 GET with
    C(Upgrade: websocket), C(Connection: Upgrade), a fresh C(Sec-WebSocket-Key) and version 13), checks that the
    answer is C(101) with the right C(Sec-WebSocket-Accept), sends one text (O(payload)) or binary
    (O(payload_size)) frame and waits for the same frame back, then closes the WebSocket cleanly."
  - Returns the status line, the response headers, whether the echo matched, and the time the handshake and the
    echo took.
  - When something fails, the task fails with a diagnosis in words, and RV(problem) names the failure as a short
    code. Network failures (V(refused), V(dns), V(timeout), V(unreachable), V(reset)), TLS failures
    (V(tls_unknown_ca), V(tls_name_mismatch), V(tls_expired), V(tls_verify), V(tls_handshake),
    V(tls_on_plain_port), V(plain_to_tls)), unexpected answers (V(status_400), V(status_426), V(status_502),
    ... one per status) and WebSocket failures (V(bad_accept), V(not_websocket), V(echo_timeout), V(echo_mismatch),
    V(closed)). For a status the diagnosis says what it usually means behind nginx; for example V(426) means
    the backend wanted an upgrade it did not receive, so nginx is not forwarding C(Upgrade) and C(Connection).
  - With O(probes), one task runs many probes, up to 8 at a time, each with its own options and the module's
    options as defaults; RV(results) holds one result per probe, in order, and the task fails when any of them
    failed. One module run instead of one per URL is much faster across a fleet.
  - It only reads, so it also runs in check mode, and it never reports a change.
  - Python standard library only. The playbook C(wsproxy.nginx.doctor) (C(playbooks/doctor.yml)) runs it on each
    proxy, once against the backend directly and once through nginx, to name the broken hop.
options:
  url:
    description:
      - The WebSocket URL, V(ws://host[:port]/path[?query]) or V(wss://...). An IPv6 address goes in brackets.
      - Required unless O(probes) is given; mutually exclusive with it.
    type: str
  probes:
    description:
      - Several probes in one task, run concurrently (up to 8 at a time, at most 1000). Each item takes the
        options of a single probe (O(url) is required in each); an option an item leaves out (or sets to
        V(null)) takes the module's value.
    type: list
    elements: dict
    suboptions:
      url:
        description: As O(url).
        type: str
        required: true
      unix_socket:
        description: As O(unix_socket).
        type: path
      host_header:
        description: As O(host_header).
        type: str
      server_name:
        description: As O(server_name).
        type: str
      ca_file:
        description: As O(ca_file).
        type: path
      validate_certs:
        description: As O(validate_certs).
        type: bool
      origin:
        description: As O(origin).
        type: str
      headers:
        description: As O(headers); replaces the module's O(headers) as a whole.
        type: dict
      timeout:
        description: As O(timeout).
        type: float
      payload:
        description: As O(payload).
        type: str
      payload_size:
        description: As O(payload_size).
        type: int
      echo:
        description: As O(echo).
        type: bool
      expect_status:
        description: As O(expect_status).
        type: int
  network_namespace:
    description:
      - Run every probe inside this network namespace, a file such as V(/proc/<pid>/ns/net) (another process's)
        or V(/run/netns/<name>), instead of the host's. V(127.0.0.1) is then that namespace's loopback. The
        doctor passes the nginx container's, so it reaches nginx and the backends as nginx does, in a container
        that has no Python.
      - Entering another process's network namespace needs root (C(CAP_SYS_ADMIN)) on the managed host; without
        it the task fails saying so. Names are still resolved by this host's resolver; see O(resolve).
      - For every probe of the task (not an option of each item of O(probes)).
    type: path
  resolve:
    description:
      - 'Addresses to connect to for host names, instead of asking this host''s resolver (as C(curl --resolve)
        does): V({"calls-backend": "172.18.0.3"}). The URL''s host still goes in C(Host) and the TLS server name.'
      - A name mapped to V(null) or V("") fails that probe with RV(problem) V(dns), as a name nothing resolves.
        The doctor fills it with the nginx container's answers (C(getent hosts) inside the container).
      - For every probe of the task (not an option of each item of O(probes)).
    type: dict
  unix_socket:
    description:
      - Connect to this Unix domain socket instead of the URL's host and port (a backend on V(unix:/run/app.sock)).
        The URL still gives the path, the scheme and the default C(Host) header.
    type: path
  host_header:
    description:
      - The C(Host) header to send instead of the URL's V(host[:port]); nginx picks the server block by it.
      - Also the TLS server name (SNI) and the name the certificate must match, unless O(server_name) is set.
    type: str
  server_name:
    description:
      - The TLS server name (SNI) to send and the name the certificate must match, when it must differ from
        O(host_header). Defaults to O(host_header) without its port, else the URL's host.
    type: str
  ca_file:
    description:
      - A PEM file of CA certificates to trust for V(wss://) instead of the system's store.
    type: path
  validate_certs:
    description:
      - Check the server certificate (chain and name) for V(wss://). V(false) accepts any certificate.
    type: bool
    default: true
  origin:
    description:
      - The C(Origin) header, as a browser on that site would send it (V(https://app.example.com)). Sent only when set.
    type: str
  headers:
    description:
      - 'Extra request headers. A header named here replaces the probe''s own header of that name (for example
        V({"Upgrade": "h2c"})), and an empty value removes it.'
    type: dict
    default: {}
  timeout:
    description:
      - Seconds for the whole probe (connect, TLS, handshake, echo and close together).
    type: float
    default: 10
  payload:
    description:
      - The text to send as one text frame and expect back. Mutually exclusive with O(payload_size).
      - When neither is given, a short text frame is sent.
    type: str
  payload_size:
    description:
      - Send this many random bytes as one binary frame instead of text (V(640) is 20 ms of 16 kHz 16-bit
        audio), 1 to 16777216.
    type: int
  echo:
    description:
      - Send the frame and expect it back. Set V(false) for a backend that does not echo; the probe then
        only checks the handshake.
    type: bool
    default: true
  expect_status:
    description:
      - The status that counts as success. With V(101) (the default) the handshake must also be a valid
        WebSocket upgrade. With another status (for example V(426) for a path that must refuse plain requests),
        the probe succeeds when exactly that status comes back, and sends no frame.
    type: int
    default: 101
attributes:
  check_mode:
    support: full
    description: Runs in check mode.
    details: It only reads, so it runs in check mode as it does otherwise.
  diff_mode:
    support: none
    description: Returns no diff; it never changes anything.
notes:
  - The TLS handshake offers only ALPN C(http/1.1); a WebSocket upgrade is an HTTP/1.1 request even where nginx
    also speaks HTTP/2.
  - A response body (of a refused upgrade) is read up to 64 KiB; RV(body) holds its first 2000 characters.
seealso:
  - name: RFC 6455, The WebSocket Protocol
    description: The opening handshake and framing this module speaks.
    link: https://www.rfc-editor.org/rfc/rfc6455
author:
  - wsproxy.nginx contributors (@wsproxy)
"""

EXAMPLES = r"""
- name: Shake hands with the backend directly, from the proxy host
  wsproxy.nginx.websocket_probe:
    url: ws://calls-backend:5006/api/frontend-audio
    host_header: api-calls.example.com

- name: Then through nginx, as the browser does (TLS name and Host from the vhost, our own CA)
  wsproxy.nginx.websocket_probe:
    url: wss://127.0.0.1:443/api/frontend-audio
    host_header: api-calls.example.com
    ca_file: /etc/ssl/wsproxy/ca.pem
    origin: https://app.example.com
    payload_size: 640
  register: probe

- name: From inside the network of an nginx container (root on the Docker host), the backend at its address there
  wsproxy.nginx.websocket_probe:
    probes:
      - url: ws://127.0.0.1:80/api/frontend-audio
      - url: ws://v25-dash-calls-backend:5006/api/frontend-audio
    host_header: api-calls.example.com
    network_namespace: /proc/4242/ns/net      # 4242: docker inspect --format '{{.State.Pid}}' calls-nginx
    resolve:
      v25-dash-calls-backend: 172.18.0.3      # docker exec calls-nginx getent hosts v25-dash-calls-backend

- name: A plain request to the endpoint must be refused with 426 by the backend
  wsproxy.nginx.websocket_probe:
    url: ws://127.0.0.1:5006/api/frontend-audio
    headers: {Upgrade: "", Connection: ""}
    expect_status: 426

- name: Probe without failing, and look at the diagnosis
  wsproxy.nginx.websocket_probe:
    url: ws://127.0.0.1/api/frontend-audio
  register: probe
  failed_when: false

- name: Say what is wrong
  ansible.builtin.debug:
    msg: "{{ probe.problem }}: {{ probe.diagnosis }}"
  when: probe.problem

- name: Every endpoint of two vhosts in one task, 5 seconds each
  wsproxy.nginx.websocket_probe:
    timeout: 5
    ca_file: /etc/ssl/wsproxy/ca.pem
    probes:
      - {url: "wss://127.0.0.1/api/frontend-audio", host_header: api-calls.example.com, payload_size: 640}
      - {url: "wss://127.0.0.1/api/call-events", host_header: api-calls.example.com}
      - {url: "ws://127.0.0.1:8080/api/audio-stream", host_header: events.example.com}
  register: fleet
  failed_when: false

- name: List the failures
  ansible.builtin.debug:
    msg: "{{ fleet.results | selectattr('problem') | map(attribute='diagnosis') }}"
"""

RETURN = r"""
results:
  description: With O(probes), one result per probe in the same order, each a dict with the keys below
    (RV(url), RV(status), RV(problem), RV(diagnosis), ...). The single-probe keys below are then not returned.
  returned: when probes is given
  type: list
  elements: dict
url:
  description: The URL probed.
  returned: always (with probes, in each item of results)
  type: str
  sample: wss://127.0.0.1:443/api/frontend-audio
status:
  description: The HTTP status of the handshake answer; V(null) when no answer came.
  returned: always (with probes, in each item of results)
  type: int
  sample: 101
reason:
  description: The reason phrase of the status line.
  returned: always (with probes, in each item of results)
  type: str
  sample: Switching Protocols
headers:
  description: The response headers, names in lower case; a repeated header's values joined with V(", ").
  returned: always (with probes, in each item of results)
  type: dict
  sample: {"upgrade": "websocket", "connection": "upgrade", "sec-websocket-accept": "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="}
body:
  description: The start of the response body when the upgrade was refused (text, at most 2000 characters).
  returned: always (with probes, in each item of results)
  type: str
  sample: '{"error": "this endpoint needs a WebSocket upgrade", "status": 426}'
upgraded:
  description: "The answer was a valid WebSocket upgrade (101, C(Upgrade: websocket), C(Connection: upgrade)
    and the right C(Sec-WebSocket-Accept))."
  returned: always (with probes, in each item of results)
  type: bool
echo_matched:
  description: The frame came back unchanged; V(null) when no frame was sent.
  returned: always (with probes, in each item of results)
  type: bool
handshake_ms:
  description: Milliseconds from the start of the TCP connection to the complete handshake answer
    (TCP connect, TLS handshake and the HTTP upgrade together).
  returned: when an answer came
  type: float
  sample: 3.21
connect_ms:
  description: Milliseconds the TCP connection took.
  returned: when the connection was made
  type: float
tls_ms:
  description: Milliseconds the TLS handshake took (V(wss://) only).
  returned: when the TLS handshake completed
  type: float
rtt_ms:
  description: Milliseconds from sending the frame to receiving its echo.
  returned: when the echo came back
  type: float
  sample: 0.85
tls:
  description: The TLS version and cipher negotiated (V(wss://) only).
  returned: when the TLS handshake completed
  type: dict
  sample: {"version": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384"}
problem:
  description: V(null) on success, else a short code for the failure (see the description), for playbooks to
    branch on.
  returned: always (with probes, in each item of results)
  type: str
  sample: status_426
diagnosis:
  description: What happened, in words, and on failure what it usually means and where to look. On failure it is
    also the task's C(msg).
  returned: always (with probes, in each item of results)
  type: str
  sample: >-
    426 Upgrade Required: the backend wants a WebSocket upgrade it did not receive. nginx is not forwarding
    Upgrade and Connection: the location needs proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $connection_upgrade.
"""

import concurrent.futures
import ctypes
import json
import os
import socket
import ssl
import time
from urllib.parse import urlsplit

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.wsproxy.nginx.plugins.module_utils.websocket_codec import (
    CLOSE_NORMAL,
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    HandshakeError,
    MessageReader,
    ProtocolError,
    accept_key,
    build_request,
    close_payload,
    describe_close,
    encode_frame,
    handshake_headers,
    header_tokens,
    new_key,
    parse_response_head,
    read_message,
)

MAX_HEAD = 64 * 1024
MAX_BODY = 64 * 1024
MAX_PAYLOAD = 16 * 1024 * 1024
BODY_SHOWN = 2000
DEFAULT_TEXT = "wsproxy.nginx websocket_probe"
USER_AGENT = "wsproxy.nginx-websocket_probe/1"

# OpenSSL X509_V_ERR_* codes that mean "I do not know who signed this".
UNKNOWN_CA = {2, 18, 19, 20, 21, 27}
EXPIRED = {9, 10}
NAME_MISMATCH = {62, 63, 64}

HEADERS_ADVICE = (
    "the location needs proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; "
    "proxy_set_header Connection $connection_upgrade (with the map $http_upgrade $connection_upgrade "
    "in the http context)"
)


class ProbeError(Exception):
    """A failed probe: ``problem`` is the short code, the message the diagnosis in words."""

    def __init__(self, problem: str, diagnosis: str) -> None:
        super().__init__(diagnosis)
        self.problem = problem
        self.diagnosis = diagnosis


# --------------------------------------------------------------------------- the request


class Target:
    """Where to connect and what to send, from the module's parameters."""

    def __init__(self, params: dict) -> None:
        url = params["url"]
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("ws", "wss"):
            raise ValueError(f"url: {url!r} is not a ws:// or wss:// URL")
        if not parts.hostname:
            raise ValueError(f"url: {url!r} has no host")
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"url: {url!r} has a port that is not a number from 1 to 65535") from None
        self.url = url
        self.secure = scheme == "wss"
        self.host = parts.hostname
        self.port = port or (443 if self.secure else 80)
        self.resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        netloc = parts.netloc.rpartition("@")[2]
        self.host_header = params.get("host_header") or netloc
        self.unix_socket = params.get("unix_socket")
        self.server_name = params.get("server_name") or _name_of(self.host_header)
        self.where = f"unix:{self.unix_socket}" if self.unix_socket else _join(self.host, self.port)


def _name_of(host_header: str) -> str:
    """'api.example.com:8443' -> 'api.example.com'; '[::1]:443' -> '::1'."""
    if host_header.startswith("["):
        return host_header[1:].partition("]")[0]
    return host_header.rpartition(":")[0] if host_header.count(":") == 1 else host_header


def _join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_head(head: bytes) -> tuple[int, str, dict]:
    try:
        return parse_response_head(head)
    except HandshakeError as exc:
        raise ProbeError(
            "not_http",
            f"the server answered {exc.line[:80]!r}, which is not an HTTP status line: this port does not speak "
            f"HTTP (another service listens there, or it expects TLS)",
        ) from None


# --------------------------------------------------------------------------- the connection


class Stream:
    """A socket with a read buffer and one deadline for the whole probe."""

    def __init__(self, sock: socket.socket, deadline: float, timeout: float) -> None:
        self.sock = sock
        self.deadline = deadline
        self.timeout = timeout
        self.buffer = bytearray()
        self.messages = MessageReader(masked=False, max_size=MAX_PAYLOAD)

    def _fill(self) -> None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("deadline")
        self.sock.settimeout(left)
        chunk = self.sock.recv(262144)
        if not chunk:
            raise ConnectionResetError("the peer closed the connection")
        self.buffer += chunk

    def read_exact(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def read_until(self, separator: bytes, limit: int) -> bytes:
        while True:
            index = self.buffer.find(separator)
            if index >= 0:
                return self.read_exact(index + len(separator))
            if len(self.buffer) > limit:
                raise ProbeError("not_http", f"no end of the HTTP response head within {limit} bytes")
            self._fill()

    def recv(self) -> bytes:
        """What is buffered, else what arrives next."""
        if not self.buffer:
            self._fill()
        data = bytes(self.buffer)
        self.buffer.clear()
        return data

    def read_some(self, limit: int, until: bytes = b"") -> bytes:
        """What arrives until ``limit`` bytes, the ``until`` marker, the peer's close, or the deadline."""
        try:
            while len(self.buffer) < limit and not (until and until in self.buffer):
                self._fill()
        except (OSError, socket.timeout):
            pass
        data = bytes(self.buffer[:limit])
        self.buffer.clear()
        return data

    def send(self, data: bytes) -> None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("deadline")
        self.sock.settimeout(left)
        self.sock.sendall(data)


def receive(stream: Stream) -> tuple[int, bytes]:
    """The next data message (fragments joined, pings answered, pongs skipped), or (OP_CLOSE, payload)."""
    while True:
        try:
            opcode, payload = read_message(stream.messages, stream.recv)
        except ProtocolError as exc:
            raise ProbeError("protocol", str(exc)) from None
        if opcode == OP_PING:
            stream.send(encode_frame(OP_PONG, payload))
        elif opcode != OP_PONG:
            return opcode, payload


def ssl_context(params: dict) -> ssl.SSLContext:
    if params["validate_certs"]:
        context = ssl.create_default_context(cafile=params.get("ca_file"))
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    # WebSocket needs HTTP/1.1 even where nginx offers HTTP/2.
    context.set_alpn_protocols(["http/1.1"])
    return context


# --------------------------------------------------------------------------- diagnoses


def address_of(host: str, params: dict) -> str:
    """The address to connect to for ``host``: the resolve option's, else ``host`` (this host's resolver)."""
    resolve = params.get("resolve") or {}
    if host not in resolve:
        return host
    if not resolve[host]:
        raise ProbeError(
            "dns",
            f"DNS failure: {host!r} does not resolve where nginx runs (resolve maps it to no address: the resolver "
            f"asked, for example the nginx container's, does not know the name). A Docker service name resolves "
            f"only on its project's networks, and not while its container is stopped.",
        )
    return str(resolve[host])


# Linux's CLONE_NEWNET (sched.h): setns() into a network namespace.
CLONE_NEWNET = 0x40000000


def enter_network_namespace(path: str) -> None:
    """Move this process (and the threads it starts later) into the network namespace ``path``."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if hasattr(os, "setns"):  # Python 3.12
            os.setns(fd, CLONE_NEWNET)
            return
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.setns(fd, CLONE_NEWNET) != 0:
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error))
    finally:
        os.close(fd)


def diagnose_network(exc: BaseException, target: Target, stage: str, timeout: float) -> ProbeError:
    """A ProbeError for a failure before any HTTP answer came. ``stage`` is 'connect', 'tls' or 'answer'."""
    where = target.where
    if isinstance(exc, ProbeError):
        return exc
    if isinstance(exc, socket.gaierror):
        return ProbeError(
            "dns",
            f"DNS failure: {target.host!r} does not resolve on this host ({exc.strerror or exc}). The name is "
            f"wrong, or only another resolver knows it (a Docker service name resolves only inside its network; "
            f"/etc/hosts and DNS differ).",
        )
    if isinstance(exc, ConnectionRefusedError) or (isinstance(exc, FileNotFoundError) and target.unix_socket):
        return ProbeError(
            "refused",
            f"connection refused by {where}: nothing listens there. The service is down, or this is the wrong "
            f"port (or socket path).",
        )
    if isinstance(exc, (socket.timeout, TimeoutError)):
        if stage == "connect":
            return ProbeError(
                "timeout",
                f"timeout: no answer from {where} within {timeout:g}s while connecting. The host is down or a "
                f"firewall drops the packets.",
            )
        if stage == "tls":
            return ProbeError(
                "timeout",
                f"timeout: {where} accepted the connection but did not finish the TLS handshake within "
                f"{timeout:g}s. It may not speak TLS on this port (use ws:// for a plain port).",
            )
        return ProbeError(
            "timeout",
            f"timeout: {where} accepted the connection but sent no HTTP answer within {timeout:g}s. The server "
            f"is stalled (a proxy waiting for a slow backend), or it is not an HTTP server.",
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = getattr(exc, "verify_code", None)
        message = getattr(exc, "verify_message", None) or str(exc)
        if code in NAME_MISMATCH:
            return ProbeError(
                "tls_name_mismatch",
                f"TLS: the certificate of {where} does not match the name {target.server_name!r} ({message}). "
                f"nginx chose a certificate for another name: the server block with this server_name is missing "
                f"or has the wrong ssl_certificate, or the certificate lacks this name.",
            )
        if code in EXPIRED:
            return ProbeError(
                "tls_expired", f"TLS: the certificate of {where} is expired or not yet valid ({message})."
            )
        if code in UNKNOWN_CA:
            return ProbeError(
                "tls_unknown_ca",
                f"TLS: the certificate of {where} is not trusted ({message}): self-signed, signed by a private CA, "
                f"or the server does not send its intermediate certificates (ssl_certificate must be the full "
                f"chain). Give ca_file with your CA, or validate_certs: false to skip the check.",
            )
        return ProbeError("tls_verify", f"TLS: the certificate of {where} was refused ({message}).")
    if isinstance(exc, ssl.SSLError):
        reason = getattr(exc, "reason", None) or str(exc)
        if reason in ("WRONG_VERSION_NUMBER", "HTTP_REQUEST", "UNKNOWN_PROTOCOL", "RECORD_LAYER_FAILURE"):
            return ProbeError(
                "tls_on_plain_port",
                f"TLS handshake failed ({reason}): {where} does not speak TLS; it answered in plain text. Use "
                f"ws:// for this port, or add ssl to its listen directive.",
            )
        return ProbeError(
            "tls_handshake",
            f"TLS handshake with {where} failed ({reason}): no certificate for the name {target.server_name!r} "
            f"(SNI), no protocol or cipher in common, or the port does not speak TLS.",
        )
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
        hint = "" if target.secure else " If the port expects TLS, use wss://."
        return ProbeError(
            "reset",
            f"{where} closed the connection without an HTTP answer.{hint} A server or firewall cut it.",
        )
    if isinstance(exc, OSError):
        text = exc.strerror or str(exc)
        return ProbeError(
            "unreachable",
            f"cannot reach {where}: {text}. No route to that host or network (host down, wrong address, or a "
            f"firewall rejects it).",
        )
    return ProbeError("error", f"{type(exc).__name__}: {exc}")


def _server_said(body: str) -> str:
    """The backend's own words from a JSON {"error": ...} body, or the start of a text body."""
    text = body.strip()
    if not text:
        return ""
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if isinstance(value, dict):
        error = value.get("error") or value.get("message")
        return f" The server said: {error!r}." if isinstance(error, str) else ""
    if value is not None or text.startswith("<"):
        return ""  # other JSON, or an HTML error page: the status says it all
    return f" The server said: {text[:200]!r}."


def diagnose_status(status: int, reason: str, headers: dict, body: str) -> ProbeError:
    """A ProbeError for an answer that is not the one expected."""
    line = f"{status} {reason}".strip()
    said = _server_said(body)
    by_nginx = "nginx" in headers.get("server", "").lower()
    if "The plain HTTP request was sent to HTTPS port" in body:
        return ProbeError(
            "plain_to_tls",
            f"{line}: a plain ws:// request reached a TLS port (nginx: 'The plain HTTP request was sent to HTTPS "
            f"port'). Use wss:// for this port.",
        )
    if status == 400:
        return ProbeError(
            "status_400",
            f"{line}: the handshake was refused as a bad request. Often nginx did not pass Upgrade/Connection, "
            f"so the backend saw a plain request missing the handshake headers ({HEADERS_ADVICE}); or the "
            f"request is malformed, or a map gives the backend Connection: close.{said}",
        )
    if status == 426:
        return ProbeError(
            "status_426",
            f"{line}: the backend wants a WebSocket upgrade it did not receive. nginx is not forwarding Upgrade "
            f"and Connection: {HEADERS_ADVICE}.{said}",
        )
    if status == 502:
        return ProbeError(
            "status_502",
            f"{line}: nginx cannot reach the backend. It is down, proxy_pass names the wrong host or port, or "
            f"the name does not resolve for nginx (nginx's error.log says which: 'connect() failed (111: "
            f"Connection refused)' or 'host not found').{said}",
        )
    if status == 503:
        return ProbeError(
            "status_503",
            f"{line}: no backend is available (every server of the upstream is marked down, or a limit refused "
            f"the request).{said}",
        )
    if status == 504:
        return ProbeError(
            "status_504",
            f"{line}: the backend is too slow. nginx connected but got no answer within proxy_connect_timeout / "
            f"proxy_read_timeout; the backend is overloaded or stuck.{said}",
        )
    if status == 403:
        return ProbeError(
            "status_403",
            f"{line}: refused. An Origin allowlist refused this request's Origin (set origin to the site the "
            f"browser is on), or an allow/deny rule, or the backend's own check.{said}",
        )
    if status == 404:
        where = "nginx" if by_nginx and not said else "the server"
        return ProbeError(
            "status_404",
            f"{line}: {where} has nothing at this path. The location that serves it does not proxy (a static "
            f"location or the default site answered: check server_name and the location), or the backend has no "
            f"such endpoint (check the path, and a URI part in proxy_pass that rewrites it).{said}",
        )
    if status in (301, 302, 303, 307, 308):
        return ProbeError(
            f"status_{status}",
            f"{line}: redirected to {headers.get('location', '(no Location header)')!r}. A WebSocket client does "
            f"not follow redirects: use the final URL (a location '/api/' redirects '/api' to '/api/'; a server "
            f"may redirect http to https).",
        )
    if status == 401:
        return ProbeError("status_401", f"{line}: authentication is required (add the credentials to headers).{said}")
    if status == 405:
        return ProbeError("status_405", f"{line}: the server does not take a GET here.{said}")
    if status == 101:
        return ProbeError("not_websocket", f"{line}, but to {headers.get('upgrade')!r}, not to websocket.")
    if 200 <= status < 300:
        return ProbeError(
            f"status_{status}",
            f"{line} instead of 101: the request reached a plain HTTP handler that ignored the upgrade. Either "
            f"this endpoint does not speak WebSocket (wrong path), or the Upgrade header was dropped on the way "
            f"and the backend served it as a plain request ({HEADERS_ADVICE}).{said}",
        )
    if 500 <= status < 600:
        return ProbeError(f"status_{status}", f"{line}: the server failed while answering the handshake.{said}")
    return ProbeError(f"status_{status}", f"{line}: not the expected answer.{said}")


def check_upgrade(status: int, reason: str, headers: dict, key: str) -> None:
    """Raise a ProbeError unless the 101 answer completes a WebSocket handshake."""
    if "websocket" not in header_tokens(headers, "upgrade"):
        raise ProbeError("not_websocket", f"101 {reason}, but with Upgrade: {headers.get('upgrade')!r}, not websocket.")
    if "upgrade" not in header_tokens(headers, "connection"):
        raise ProbeError(
            "bad_accept",
            f"101 {reason}, but Connection: {headers.get('connection')!r} lacks the upgrade token, so this is not a "
            f"valid WebSocket handshake.",
        )
    expected = accept_key(key)
    got = headers.get("sec-websocket-accept")
    if got != expected:
        raise ProbeError(
            "bad_accept",
            f"101 {reason}, but without a valid Sec-WebSocket-Accept (got {got!r}, expected {expected!r}): the answer "
            f"does not belong to this handshake. Something between is broken (a caching proxy, a server that fakes "
            f"the upgrade, or responses mixed up on a reused connection).",
        )


# --------------------------------------------------------------------------- the probe


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _read_body(stream: Stream, status: int, headers: dict) -> bytes:
    """The start of a refused upgrade's body; a body cut short is returned as far as it came."""
    if status in (101, 204, 304) or 100 <= status < 200:
        return b""
    length = headers.get("content-length", "")
    limit = min(int(length), MAX_BODY) if length.isdigit() else MAX_BODY
    if "chunked" in header_tokens(headers, "transfer-encoding"):
        return _dechunk(stream.read_some(MAX_BODY, until=b"\r\n0\r\n\r\n"))
    return stream.read_some(limit)


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, sep, rest = data.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
        except ValueError:
            break
        if not sep or size == 0:
            break
        out += rest[:size]
        data = rest[size + 2 :]
    return bytes(out)


def probe(params: dict) -> dict:
    """Run one probe. Returns the result dict; ``problem`` is None on success."""
    target = Target(params)
    timeout = float(params["timeout"])
    result: dict = {
        "url": target.url,
        "status": None,
        "reason": None,
        "headers": {},
        "body": "",
        "upgraded": False,
        "echo_matched": None,
        "problem": None,
        "diagnosis": "",
    }
    started = time.monotonic()
    deadline = started + timeout
    stage = "connect"
    sock = None
    try:
        if target.unix_socket:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(target.unix_socket)
        else:
            sock = socket.create_connection((address_of(target.host, params), target.port), timeout=timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        result["connect_ms"] = _ms(time.monotonic() - started)
        if target.secure:
            stage = "tls"
            tls_started = time.monotonic()
            sock.settimeout(max(deadline - tls_started, 0.001))
            sock = ssl_context(params).wrap_socket(sock, server_hostname=target.server_name)
            result["tls_ms"] = _ms(time.monotonic() - tls_started)
            result["tls"] = {"version": sock.version(), "cipher": (sock.cipher() or ("",))[0]}
        stage = "answer"
        stream = Stream(sock, deadline, timeout)
        key = new_key()
        own = handshake_headers(
            target.host_header, key, origin=params.get("origin"), user_agent=USER_AGENT, extra=params["headers"]
        )
        stream.send(build_request("GET", target.resource, own))
        status, reason, headers = parse_head(stream.read_until(b"\r\n\r\n", MAX_HEAD))
        result.update(status=status, reason=reason, headers=headers, handshake_ms=_ms(time.monotonic() - started))
        body = _read_body(stream, status, headers).decode("utf-8", "replace")
        result["body"] = body[:BODY_SHOWN]
        expected = params["expect_status"]
        if status == 101 and expected == 101:
            check_upgrade(status, reason, headers, key)
            result["upgraded"] = True
        if status != expected:
            if expected == 101:
                raise diagnose_status(status, reason, headers, body)
            said = "the upgrade was accepted" if status == 101 else diagnose_status(status, reason, headers, body)
            raise ProbeError(f"status_{status}", f"expected {expected}, got {said}")
        if expected != 101:
            result["diagnosis"] = f"{status} {reason} as expected"
            return result
        if not params["echo"]:
            result["diagnosis"] = f"WebSocket handshake completed in {result['handshake_ms']:g} ms (no frame sent)"
            _close(stream)
            return result
        stage = "echo"
        if params.get("payload_size"):
            opcode, payload = OP_BINARY, os.urandom(params["payload_size"])
        else:
            opcode, payload = OP_TEXT, (params.get("payload") or DEFAULT_TEXT).encode("utf-8")
        sent = time.monotonic()
        stream.send(encode_frame(opcode, payload))
        got_opcode, got = receive(stream)
        if got_opcode == OP_CLOSE:
            result["echo_matched"] = False
            raise ProbeError(
                "closed",
                f"the WebSocket opened, then the server closed it instead of echoing ({describe_close(got)}).",
            )
        result["rtt_ms"] = _ms(time.monotonic() - sent)
        result["echo_matched"] = (got_opcode, got) == (opcode, payload)
        if not result["echo_matched"]:
            kind = "text" if got_opcode == OP_TEXT else "binary"
            raise ProbeError(
                "echo_mismatch",
                f"the WebSocket opened, but the answer to the {len(payload)}-byte frame was a different {kind} "
                f"message of {len(got)} bytes: this backend does not echo (set echo: false), or frames are altered "
                f"on the way.",
            )
        _close(stream)
        what = f"{len(payload)}-byte {'binary' if opcode == OP_BINARY else 'text'} frame"
        result["diagnosis"] = (
            f"WebSocket handshake in {result['handshake_ms']:g} ms, {what} echoed in {result['rtt_ms']:g} ms"
        )
        return result
    except ProbeError as exc:
        result.update(problem=exc.problem, diagnosis=exc.diagnosis)
    except (OSError, socket.timeout, ValueError) as exc:
        if stage == "echo" and isinstance(exc, (socket.timeout, TimeoutError)):
            error = ProbeError(
                "echo_timeout",
                f"the WebSocket opened, but no echo came back within {timeout:g}s: the backend does not echo "
                f"(set echo: false), or frames are held up on the way.",
            )
        elif stage == "echo" and isinstance(exc, ConnectionError):
            error = ProbeError("closed", "the WebSocket opened, then the connection was closed without an echo.")
        else:
            error = diagnose_network(exc, target, stage, timeout)
        result.update(problem=error.problem, diagnosis=error.diagnosis)
    finally:
        if sock is not None:
            sock.close()
    return result


def _close(stream: Stream) -> None:
    """Close handshake: send 1000 and wait briefly for the server's close frame."""
    try:
        stream.send(encode_frame(OP_CLOSE, close_payload(CLOSE_NORMAL)))
        stream.deadline = min(stream.deadline, time.monotonic() + 1.0)
        receive(stream)
    except (OSError, socket.timeout, ProbeError, ValueError):
        pass


# One probe's options: the module's own (for a single probe), and each item of probes (which inherits the
# module's values for what it leaves out).
PROBE_OPTIONS = {
    "url": {"type": "str"},
    "unix_socket": {"type": "path"},
    "host_header": {"type": "str"},
    "server_name": {"type": "str"},
    "ca_file": {"type": "path"},
    "validate_certs": {"type": "bool", "default": True},
    "origin": {"type": "str"},
    "headers": {"type": "dict", "default": {}},
    "timeout": {"type": "float", "default": 10},
    "payload": {"type": "str"},
    "payload_size": {"type": "int"},
    "echo": {"type": "bool", "default": True},
    "expect_status": {"type": "int", "default": 101},
}
MAX_PROBES = 1000
MAX_PARALLEL = 8


def check(params: dict, where: str) -> str | None:
    """Why these probe parameters are refused, or None."""
    if not params.get("url"):
        return f"{where}url: required (a ws:// or wss:// URL)"
    if params["payload"] is not None and params["payload_size"] is not None:
        return f"{where}payload and {where}payload_size are mutually exclusive"
    if not 0 < params["timeout"] <= 3600:
        return f"{where}timeout: {params['timeout']!r} is not a number of seconds from 0 (excluded) to 3600"
    if params["payload_size"] is not None and not 1 <= params["payload_size"] <= MAX_PAYLOAD:
        return f"{where}payload_size: {params['payload_size']!r} is not from 1 to {MAX_PAYLOAD}"
    if not 100 <= params["expect_status"] <= 599:
        return f"{where}expect_status: {params['expect_status']!r} is not an HTTP status (100-599)"
    if params["ca_file"] and not os.path.isfile(params["ca_file"]):
        return f"{where}ca_file: {params['ca_file']!r} is not a file on this host"
    try:
        Target(params)
    except ValueError as exc:
        return f"{where}{exc}"
    return None


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **PROBE_OPTIONS,
            "network_namespace": {"type": "path"},
            "resolve": {"type": "dict"},
            "probes": {
                "type": "list",
                "elements": "dict",
                "options": {
                    **{name: {"type": spec["type"]} for name, spec in PROBE_OPTIONS.items()},
                    "url": {"type": "str", "required": True},
                },
            },
        },
        mutually_exclusive=[("url", "probes"), ("payload", "payload_size")],
        required_one_of=[("url", "probes")],
        supports_check_mode=True,
    )
    params = module.params
    if params["network_namespace"]:
        try:
            enter_network_namespace(params["network_namespace"])
        except OSError as exc:
            module.fail_json(
                msg=f"network_namespace: {params['network_namespace']!r}: cannot enter it ({exc.strerror or exc}). "
                "It must be a network namespace file of this host (/proc/<pid>/ns/net of a running process), and "
                "entering another process's needs root (CAP_SYS_ADMIN) here: become: true."
            )
    if params["probes"] is None:
        problem = check(params, "")
        if problem:
            module.fail_json(msg=problem)
        result = probe(params)
        if result["problem"]:
            module.fail_json(msg=f"{result['url']}: {result['diagnosis']}", changed=False, **result)
        module.exit_json(changed=False, **result)

    if len(params["probes"]) > MAX_PROBES:
        module.fail_json(msg=f"probes: {len(params['probes'])} probes, at most {MAX_PROBES} in one task")
    batch = []
    for index, item in enumerate(params["probes"]):
        merged = {
            name: item[name] if item.get(name) is not None else params[name] for name in PROBE_OPTIONS if name != "url"
        }
        merged["url"] = item.get("url")
        merged["resolve"] = params["resolve"]
        problem = check(merged, f"probes[{index}].")
        if problem:
            module.fail_json(msg=problem)
        batch.append(merged)
    with concurrent.futures.ThreadPoolExecutor(max_workers=MAX_PARALLEL) as pool:
        results = list(pool.map(probe, batch))
    failed = [f"{result['url']}: {result['diagnosis']}" for result in results if result["problem"]]
    if failed:
        module.fail_json(
            msg=f"{len(failed)} of {len(results)} probes failed. " + " | ".join(failed), changed=False, results=results
        )
    module.exit_json(changed=False, msg=f"{len(results)} probes succeeded", results=results)


if __name__ == "__main__":
    main()
