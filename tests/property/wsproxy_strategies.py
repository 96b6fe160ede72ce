"""Hypothesis strategies: candidate strings for each validator, mostly near the accepted set.

Each candidate strategy mixes strings built from the kind's grammar (so that many are accepted)
with near misses and free text (so that the boundary is explored). The validators decide; the
tests then make real nginx judge everything that was accepted.
"""

from __future__ import annotations

import string

from ansible_collections.wsproxy.nginx.plugins.plugin_utils.tokens import NGINX_SYNTAX
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

#: Reproducible in CI: derandomized, no example database, no deadline (nginx runs after hypothesis).
PROPERTY = settings(
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)

# Free text that stays near nginx: printable ASCII (syntax characters included) and a little more.
NEAR_ASCII = st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.sampled_from("\t\n\x00\x7fé\u00a0")
free_text = st.text(NEAR_ASCII, max_size=40)

label = st.from_regex(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,14}[A-Za-z0-9])?", fullmatch=True) | st.from_regex(
    r"[a-z]{60,64}", fullmatch=True
)
near_label = st.text(st.sampled_from(string.ascii_letters + string.digits + "-_*."), min_size=0, max_size=12)
hostname = st.lists(label, min_size=1, max_size=5).map(".".join)
ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(str)


def _wild(name: str, how: int) -> str:
    return [name, "*." + name, name + ".*", "." + name][how]


server_name = st.one_of(
    st.builds(_wild, hostname, st.integers(0, 3)),
    ipv4,
    ipv6.map(lambda a: f"[{a}]"),
    st.just("_"),
    st.lists(near_label, min_size=1, max_size=4).map(".".join),
    free_text,
)

PATH_SEGMENT_CHARS = string.ascii_letters + string.digits + "._~!*+,=:@-"
path_segment = st.text(st.sampled_from(PATH_SEGMENT_CHARS), min_size=1, max_size=10)


def _path(segments: list[str], trailing: bool) -> str:
    return "/" + "/".join(segments) + ("/" if trailing and segments else "")


location_path = st.one_of(
    st.builds(_path, st.lists(path_segment, max_size=5), st.booleans()),
    st.builds(
        _path, st.lists(st.text(st.sampled_from(PATH_SEGMENT_CHARS + "/%?"), max_size=6), max_size=4), st.booleans()
    ),
    free_text.map(lambda s: "/" + s),
)

header_value = st.one_of(
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40),
    free_text,
)

FILE_CHARS = string.ascii_letters + string.digits + "._~+,=:@-"
file_path = st.one_of(
    st.lists(st.text(st.sampled_from(FILE_CHARS), min_size=1, max_size=12), min_size=1, max_size=5).map(
        lambda s: "/" + "/".join(s)
    ),
    free_text.map(lambda s: "/" + s),
    free_text,
)

name = st.one_of(
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,40}", fullmatch=True),
    st.from_regex(r"[a-z]{190,200}", fullmatch=True),
    st.text(st.sampled_from(string.ascii_letters + string.digits + "._-/ :*"), min_size=1, max_size=20),
    free_text,
)

ENDPOINT_CHARS = string.ascii_letters + string.digits + "._~-"
endpoint = st.one_of(
    st.lists(st.text(st.sampled_from(ENDPOINT_CHARS), min_size=1, max_size=10), min_size=1, max_size=3).map("/".join),
    st.text(st.sampled_from(ENDPOINT_CHARS + "/|()$+"), min_size=0, max_size=12),
)
endpoints = st.one_of(
    st.lists(
        st.lists(st.text(st.sampled_from(ENDPOINT_CHARS), min_size=1, max_size=10), min_size=1, max_size=2).map(
            "/".join
        ),
        min_size=1,
        max_size=4,
    ),
    st.lists(endpoint, min_size=1, max_size=3),
)

UNITS = ["w", "d", "h", "m", "s", "ms"]


UNIT_RANGE = {"w": 4, "d": 30, "h": 100, "m": 1000, "s": 10_000, "ms": 100_000}


def _units(units: list[str], numbers: list[int], sep: str, shuffle: int) -> str:
    ordered = sorted(units, key=UNITS.index) if shuffle else units
    return sep.join(f"{n % UNIT_RANGE[u]}{u}" for n, u in zip(numbers, ordered, strict=False))


duration = st.one_of(
    st.integers(min_value=-5, max_value=2_200_000),
    st.floats(min_value=0, max_value=3_000_000, allow_nan=False).map(lambda f: round(f, 3)),
    # nginx-style: distinct units, usually largest first (as nginx requires), sometimes not
    st.builds(
        _units,
        st.lists(st.sampled_from(UNITS), min_size=1, max_size=4, unique=True),
        st.lists(st.integers(0, 100_000), min_size=4, max_size=4),
        st.sampled_from(["", " ", "  "]),
        st.integers(0, 9),
    ),
    st.lists(
        st.tuples(st.integers(0, 400), st.sampled_from([*UNITS, "M", "y"]), st.sampled_from(["", " "])),
        min_size=1,
        max_size=4,
    ).map(lambda parts: "".join(f"{n}{u}{sep}" for n, u, sep in parts).rstrip(" ")),
    st.from_regex(r"[0-9]{1,7}(?:\.[0-9]{1,4})?", fullmatch=True),
    free_text,
)

# Backends: hosts that resolve without DNS (IP literals, localhost), upstream-style names, unix sockets.
port = st.integers(min_value=0, max_value=70000)
uri_part = st.one_of(
    st.just(""),
    st.builds(_path, st.lists(path_segment, max_size=4), st.booleans()),
    st.text(st.sampled_from(PATH_SEGMENT_CHARS + "/%AF0"), max_size=10).map(lambda s: "/" + s),
)
scheme = st.sampled_from(["", "http://", "https://", "ws://", "wss://", "HTTP://", "ftp://"])
host = st.one_of(ipv4, ipv6.map(lambda a: f"[{a}]"), st.just("localhost"), hostname, near_label)


def _backend(scheme: str, host: str, port: int | None, uri: str) -> str:
    return f"{scheme}{host}{'' if port is None else f':{port}'}{uri}"


unix_path = st.lists(st.text(st.sampled_from(FILE_CHARS), min_size=1, max_size=12), min_size=1, max_size=4).map(
    lambda s: "/" + "/".join(s)
)
backend = st.one_of(
    st.builds(_backend, scheme, host, st.none() | port, uri_part),
    st.builds(
        lambda s, p, u: f"{s}unix:{p}{u}",
        st.sampled_from(["", "http://", "https://"]),
        unix_path,
        st.sampled_from(["", ":"]) | uri_part.map(lambda u: f":{u}" if u else ""),
    ),
    free_text,
)

#: Characters nginx treats as syntax, plus non-ASCII ones (Unicode whitespace among them).
metachar = st.one_of(
    st.sampled_from(sorted(NGINX_SYNTAX)),
    st.characters(min_codepoint=0x80, exclude_categories=("Cs",)),
    st.sampled_from("\u00a0\u1680\u2000\u2028\u2029\u3000\ufeff\u0085"),
)
