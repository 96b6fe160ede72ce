"""allowed_origins and client_max_body_size: a metacharacter anywhere in an accepted value is refused.

The strings are accepted origins and sizes with one character inserted: whitespace, ``;``, ``{``, ``}``, ``#``,
quotes, backslash, ``$``, a control character or a non-ASCII character. What is accepted is rendered into a map
key or a regex (origins) and a directive (sizes); tests/property/test_origin_map_nginx.py and the render tests
let real nginx judge those.
"""

from __future__ import annotations

import pytest
import wsproxy_strategies as strat
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.tokens import nginx_size, parse_origin
from hypothesis import given, settings
from hypothesis import strategies as st

ORIGIN = st.builds(
    lambda scheme, wildcard, host, port: f"{scheme}://{'*.' if wildcard else ''}{host}{port}",
    st.sampled_from(["http", "https", "HTTPS"]),
    st.booleans(),
    st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,8}[a-z0-9]", fullmatch=True), min_size=2, max_size=4).map(".".join),
    st.sampled_from(["", ":443", ":8443", ":3000"]),
)
SIZE = st.from_regex(r"[0-9]{1,9}[kKmMgG]?", fullmatch=True)


def insert(value: str, position: int, char: str) -> str:
    position %= len(value) + 1
    return value[:position] + char + value[position:]


@pytest.mark.parametrize(("strategy", "check"), [(ORIGIN, parse_origin), (SIZE, nginx_size)], ids=["origin", "size"])
def test_accepted_values_with_a_metacharacter_are_refused(strategy, check, cases) -> None:
    @settings(strat.PROPERTY, max_examples=200)
    @given(strategy, st.integers(min_value=0), strat.metachar)
    def run(value: str, position: int, char: str) -> None:
        cases.add()
        check(value)  # the value itself is accepted
        with pytest.raises(ConfigError):
            check(insert(value, position, char))

    run()
    assert cases.count >= 200
