"""server_names_hash_bucket_size against real nginx: the default fails for a 47-character name once two
servers share a port, and the computed size is enough (and one step less is not)."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.tokens import server_names_hash_bucket_size, validate_token
from nginx_helpers import assert_nginx_accepts, assert_nginx_refuses, free_port

# Small enough for the config test: no hash-size tuning in http {} beyond what the helper adds.
ERROR = "could not build server_names_hash, you should increase server_names_hash_bucket_size"


def name_of(length: int) -> str:
    labels = []
    while sum(len(label) + 1 for label in labels) - 1 < length:
        labels.append("a" * 40)
    name = ".".join(labels)[:length].rstrip(".")
    assert len(name) == length
    return validate_token(name, "server_name")


def two_servers(name: str, bucket: int | None) -> str:
    port = free_port()
    setting = f"    server_names_hash_bucket_size {bucket};\n" if bucket else ""
    return (
        setting
        + f"    server {{ listen 127.0.0.1:{port}; server_name other.example; return 204; }}\n"
        + f"    server {{ listen 127.0.0.1:{port}; server_name {name}; return 204; }}\n"
    )


def test_default_bucket_holds_46_characters(tmp_path: Path) -> None:
    assert server_names_hash_bucket_size([name_of(46)]) == 64
    assert_nginx_accepts(tmp_path, two_servers(name_of(46), None))


@pytest.mark.parametrize("length", [47, 110, 111, 200, 253])
def test_longer_names_need_the_computed_size(tmp_path: Path, length: int) -> None:
    name = name_of(length)
    bucket = server_names_hash_bucket_size([name])
    assert_nginx_refuses(tmp_path, two_servers(name, None), ERROR)
    assert_nginx_refuses(tmp_path, two_servers(name, bucket - 64), ERROR)
    assert_nginx_accepts(tmp_path, two_servers(name, bucket))
