# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter server_names_hash_bucket_size: the bucket size long server names need (logic in plugin_utils.tokens)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import filter_errors
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.tokens import (
    server_names_hash_bucket_size as _server_names_hash_bucket_size,
)

DOCUMENTATION = r"""
name: server_names_hash_bucket_size
short_description: The server_names_hash_bucket_size that a list of server names needs
version_added: 0.1.0
author: wsproxy.nginx contributors (@wsproxy)
description:
  - 'When several servers share an address and port, nginx puts their names in a hash whose buckets are
    C(server_names_hash_bucket_size) bytes (by default the CPU cache line, 64 on x86-64). A name longer than
    46 characters does not fit, and C(nginx -t) fails with "could not build server_names_hash, you should increase
    server_names_hash_bucket_size: 64", although the name itself is valid.'
  - Returns the smallest multiple of 64 (at least 64) that holds every name, so a template can write
    C(server_names_hash_bucket_size) in the http context when the result is above 64.
  - Each name is checked like P(wsproxy.nginx.nginx_token#filter) kind V(server_name).
positional: _input, name
options:
  _input:
    description: Server names, for example every vhost's V(server_names) flattened.
    type: list
    elements: str
    required: true
  name:
    description: The variable path named in error messages.
    type: str
    default: server_names
"""

EXAMPLES = r"""
# 64
short: "{{ ['api-calls.example.com', '*.example.com'] | wsproxy.nginx.server_names_hash_bucket_size }}"

# 128: a 60-character name needs it as soon as another server listens on the same port
long: "{{ [('a' * 50) ~ '.example.com'] | wsproxy.nginx.server_names_hash_bucket_size }}"

bucket: >-
  {{ __websocket_proxy_vhosts | map(attribute='server_names') | flatten
     | wsproxy.nginx.server_names_hash_bucket_size }}
"""

RETURN = r"""
_value:
  description: A bucket size in bytes, a multiple of 64, at least 64.
  type: int
"""


@filter_errors
def server_names_hash_bucket_size(server_names, name="server_names"):
    """The filter: argument check, then plugin_utils.tokens.server_names_hash_bucket_size."""
    if not isinstance(name, str):
        raise AnsibleFilterError(f"server_names_hash_bucket_size: name must be a string, got {name!r}")
    return _server_names_hash_bucket_size(server_names, name=name)


class FilterModule:
    """wsproxy.nginx.server_names_hash_bucket_size"""

    def filters(self):
        return {"server_names_hash_bucket_size": server_names_hash_bucket_size}
