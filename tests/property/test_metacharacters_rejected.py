"""Any string holding an nginx metacharacter (or any non-ASCII character) is refused by every validator.

The strings are accepted values with one character inserted: whitespace, ``;``, ``{``, ``}``, ``#``,
quotes, backslash, ``$``, a control character, or a non-ASCII character (Unicode spaces included).
"""

from __future__ import annotations

import pytest
import wsproxy_strategies as strat
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.duration import nginx_duration
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.proxy_target import proxy_target
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.tokens import KINDS, validate_token
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.ws_regex import ws_path_regex
from hypothesis import given, settings
from hypothesis import strategies as st

VALID = {
    "server_name": strat.hostname,
    "location_path": st.builds(strat._path, st.lists(strat.path_segment, max_size=4), st.booleans()),
    "header_value": st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20),
    "file_path": strat.unix_path,
    "name": st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True),
    "endpoint": st.from_regex(r"[a-z0-9-]{1,10}(?:/[a-z0-9-]{1,10})?", fullmatch=True),
    "duration": st.from_regex(r"[1-9][0-9]{0,2}(?:h|m|s|ms)", fullmatch=True),
    "backend": st.builds(lambda h, p: f"http://{h}:{p}/x/", strat.hostname, st.integers(1, 65535)),
}


def insert(value: str, position: int, char: str) -> str:
    position %= len(value) + 1
    return value[:position] + char + value[position:]


def refuses_everywhere(value: str) -> None:
    for kind in KINDS:
        with pytest.raises(ConfigError):
            validate_token(value, kind)
    with pytest.raises(ConfigError):
        nginx_duration(value)
    with pytest.raises(ConfigError):
        proxy_target(value)
    with pytest.raises(ConfigError):
        ws_path_regex([value])


@pytest.mark.parametrize("source", list(VALID))
def test_a_metacharacter_anywhere_is_refused(source: str, cases) -> None:
    @settings(strat.PROPERTY, max_examples=120)
    @given(VALID[source], st.integers(min_value=0), strat.metachar)
    def run(value: str, position: int, char: str) -> None:
        cases.add()
        refuses_everywhere(insert(value, position, char))

    run()
    assert cases.count >= 100


def test_free_text_with_a_metacharacter_is_refused(cases) -> None:
    @settings(strat.PROPERTY, max_examples=300)
    @given(strat.free_text, st.integers(min_value=0), strat.metachar)
    def run(value: str, position: int, char: str) -> None:
        cases.add()
        refuses_everywhere(insert(value, position, char))

    run()
    assert cases.count >= 250
