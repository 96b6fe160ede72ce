"""tokens.server_names_hash_bucket_size: the bucket size long names need (nginx's own check: tests/nginx)."""

from __future__ import annotations

import pytest
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.tokens import server_names_hash_bucket_size


def name_of(length: int) -> str:
    labels = []
    while sum(len(label) + 1 for label in labels) - 1 < length:
        labels.append("a" * 40)
    return ".".join(labels)[:length].rstrip(".")


@pytest.mark.parametrize(
    ("lengths", "expected"),
    [([], 64), ([1], 64), ([46], 64), ([47], 128), ([10, 47], 128), ([110], 128), ([111], 192), ([253], 320)],
)
def test_sizes(lengths: list[int], expected: int) -> None:
    names = [name_of(n) for n in lengths]
    assert [len(n) for n in names] == lengths
    assert server_names_hash_bucket_size(names) == expected


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ("a.example.com", "server_names: 'a.example.com' is not a list of server names"),
        (["a.example.com", "a b"], "server_names[1]: 'a b' is not a valid server name"),
    ],
)
def test_rejected(names: object, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        server_names_hash_bucket_size(names)
    assert str(caught.value).startswith(message)
