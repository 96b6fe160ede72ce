# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The buffer a WebSocket location gives each direction of its tunnels, fitted to the frames it carries.

nginx keeps two ``proxy_buffer_size`` buffers (one per direction) and the request's pool for the whole life of
an upgraded connection. A frame larger than the buffer still passes: nginx streams the tunnel through it, a
buffer at a time, and never reads a frame whole. What the size changes is memory per open WebSocket, and how many
reads a large frame takes. Measured with nginx 1.22 (bench/README.md): 17.9 KiB per held WebSocket with nginx's
default (4k, one memory page), 13.9 KiB with 1k; 2k costs as much as 4k, because a buffer that does not fit in
what is left of the request's pool block (request_pool_size, 4k) takes a new block.

The same buffer holds the response header of the backend (a WebSocket's ``101 Switching Protocols`` is about 150
bytes), so in a location that also serves plain requests it bounds their response headers: a larger header gets
502 (nginx: "upstream sent too big header"). Hence the rule, from a location's ``frame_size`` hint (the size of
most of its frames):

* hint given: the buffer is the hint rounded up to whole KiB, at least 1k and at most 64k;
* no hint, a location that only carries WebSockets (the regex location of ``websocket_endpoints``): 1k;
* no hint, a location that also serves plain requests: no directive, nginx's default (one page), which keeps
  nginx's usual bound on response headers.
"""

from __future__ import annotations

from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.tokens import nginx_size

KIB = 1024
SMALLEST = 1 * KIB
LARGEST = 64 * KIB
#: A hint larger than this is not a frame size (WebSocket messages of megabytes are fragmented or streamed).
HINT_MAX = 16 * KIB * KIB
FRAME_SIZE_ACCEPTED = (
    "the size of most WebSocket frames of the location, bytes as an integer (640) or digits with k or m "
    "('1k', '16k'), at most 16m; empty for no hint"
)
_UNITS = {"": 1, "k": KIB, "m": KIB * KIB, "g": KIB * KIB * KIB}


def frame_size(value: object, where: str) -> int | None:
    """A location's frame-size hint in bytes; None when there is none ('' or None)."""
    if value is None or value == "":
        return None
    try:
        text = nginx_size(value, where)
    except ConfigError:
        raise ConfigError(f"{where}: {value!r} is not a frame size ({FRAME_SIZE_ACCEPTED})") from None
    unit = text[-1] if text[-1] in "kmg" else ""
    size = int(text[: len(text) - len(unit)]) * _UNITS[unit]
    if not 1 <= size <= HINT_MAX:
        raise ConfigError(f"{where}: {value!r} is not a frame size ({FRAME_SIZE_ACCEPTED})")
    return size


def proxy_buffer_size(hint: int | None, websocket_only: bool) -> str | None:
    """The ``proxy_buffer_size`` of a WebSocket location ('1k', '16k'), or None for nginx's default."""
    if hint is None:
        return f"{SMALLEST // KIB}k" if websocket_only else None
    size = min(LARGEST, max(SMALLEST, -(-hint // KIB) * KIB))
    return f"{size // KIB}k"
