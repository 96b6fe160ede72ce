# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter websocket_vhosts: the role's vhosts validated and normalised (logic in plugin_utils.vhosts)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import filter_errors
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.vhosts import websocket_vhosts as _websocket_vhosts

DOCUMENTATION = r"""
name: websocket_vhosts
short_description: Validate websocket_proxy_vhosts and normalise it into what the templates read
version_added: 0.1.0
author: wsproxy.nginx contributors (@wsproxy)
description:
  - Checks every field of every vhost with P(wsproxy.nginx.nginx_token#filter), P(wsproxy.nginx.nginx_duration#filter),
    P(wsproxy.nginx.proxy_target#filter) and the endpoint-name rules, refuses unknown keys, wrong types,
    duplicate vhost names, the same server name on the same port in two vhosts, two default servers on one port,
    a port that is TLS in one vhost and plain in another (or differs in http2), duplicate locations and empty
    location lists.
  - "Input, per vhost: V(server_name) (a string or a non-empty list; required); V(name) (file stem; default derived
    from the first server name, V(*.) becoming V(wildcard.), V(.*) becoming V(.wildcard) and V(_) becoming
    V(default)); V(listen) (a port or a list of ports; default 443 with V(tls), else 80); V(default_server)
    (bool, default false); V(tls) (V(certificate) and V(certificate_key), absolute paths, required;
    V(http2) bool, default true); V(locations) (a non-empty list; required)."
  - "Input, per location: V(path) (prefix, default V(/api/)); V(backend) (required: a backend as
    P(wsproxy.nginx.proxy_target#filter) takes it, or a non-empty list of them, the servers of one upstream, to
    spread load or to pass the ~28,000 ports one source/destination address pair allows; the items of a list share
    one scheme and one URI part, are not https and not repeated); V(websocket) (bool, default true);
    V(websocket_endpoints) (endpoint names, default none); V(read_timeout), V(send_timeout), V(connect_timeout)
    (default from O(defaults))."
  - "A location with V(websocket_endpoints) becomes two, in this order: a regex location (V(~), the endpoint
    names escaped and anchored under V(path)), WebSocket, backend without URI part) and a plain prefix location at
    V(path) (not WebSocket). Without endpoints it is one prefix location, WebSocket or not as V(websocket) says."
  - "How a location reaches its backend, first rule that applies. B(Dynamic): O(defaults.resolver) is not empty and
    the backend is one DNS name (not an IP address, not a unix socket, not V(localhost) or V(*.localhost): nginx's
    resolver asks DNS only, never /etc/hosts). V(proxy_pass) is V($wsproxy_backend) and V(proxy_pass_variable) the
    value to C(set) it to, so nginx resolves the name at run time and again once the answer is older than
    O(defaults.resolver_valid): a recreated container with a new address is found without a reload, and a name that
    does not resolve yet does not stop nginx from starting. A dynamic backend with a URI part is refused (with a
    variable nginx replaces the whole request URI by it). No upstream keepalive for dynamic backends. A literal
    C(proxy_pass) to the same host and port anywhere in nginx's http context (a hand-written vhost) defines an
    upstream that nginx prefers to the resolver: the name is then never re-resolved."
  - "B(Upstream): the backend is a list, or O(defaults.upstream_keepalive) > 0 and the backend is http with an
    explicit port or a unix socket. V(proxy_pass) is V(http://<upstream name><URI part>); the vhost's V(upstreams)
    hold the block with V(keepalive). A list is never dynamic: its host names are resolved when nginx loads the
    config. B(Direct): anything else (https, which would need proxy_ssl_name in an upstream; keepalive 0; a backend
    with a scheme and no port, which may name an C(upstream {}) block of your own): V(proxy_pass) as written."
  - "Upstream names are V(wsproxy_) followed by the vhost name with every character outside V([A-Za-z0-9_])
    replaced by V(_), then V(_<n>) (V(n) from 1, in order of first use; locations of one vhost with the same servers
    share one block). A vhost whose name would give V(wsproxy_snippet_...) gets V(wsproxy_vhost_...) instead, so
    its upstreams never meet those of P(wsproxy.nginx.websocket_snippets#filter). Two vhosts whose names differ
    only in characters that become V(_) (V(api.x), V(api-x)), or in letter case, are refused when both have
    upstreams: nginx would refuse the duplicate upstream."
  - "Last, for every vhost, nginx's location selection (P(wsproxy.nginx.location_match#filter)) must send every
    WebSocket URI (each endpoint under its path, or the path of a WebSocket prefix location) to a WebSocket location;
    otherwise the error names the URI and the location that would capture it."
  - "Output, per vhost: V(name), V(server_names) (list), V(listen) (list of dicts V(port), V(ssl), V(default_server)),
    V(tls) (V(certificate), V(certificate_key), V(http2), V(source); or V(None)), V(locations) (in the order to write
    them; dicts V(modifier), V(path), V(proxy_pass), V(websocket), V(read_timeout), V(send_timeout),
    V(connect_timeout), V(source), V(upstream) (name or V(None)), V(dynamic) (bool), V(proxy_pass_variable) (string
    or V(None)), V(resolver) and V(resolver_valid) (always V(None) here: a vhost's resolver is in its server block)),
    V(websocket_uris) (list), V(upstreams) (list of dicts V(name), V(servers) (V(host:port), V([v6]:port) or
    V(unix:/path)), V(keepalive) (0 when only a list asked for the block: write no keepalive line), V(source) (the
    first backend that uses it)), V(resolver) (list, or V(None) when O(defaults.resolver) is empty), V(resolver_valid)
    and V(source) (the variable path of the vhost); with O(layout), V(files): the files the vhost owns there,
    V(conf) (its server block, V(<vhost_dir>/<vhost_prefix><name>.conf)), V(link) (what enables it, a
    M(wsproxy.nginx.nginx_files) link V({path: <vhost_enabled_dir>/<name>.conf, src: <conf>, name: <source>}), or
    V(None) where no link is needed) and V(tls) (a list of V({path, missing}), one per file V(tls) names, V(missing)
    being the message when the host lacks it)."
  - "The templates write, per upstream before the server block, C(upstream NAME { server S; ... keepalive N; }); in
    the server block C(resolver R1 R2 valid=T;) when V(resolver) is set; in a dynamic location
    C(set $wsproxy_backend \"VALUE\";) before C(proxy_pass $wsproxy_backend;)."
positional: _input, defaults, name, layout
options:
  _input:
    description: websocket_proxy_vhosts.
    type: list
    elements: dict
    required: true
  defaults:
    description: The role-wide settings. Errors about them name C(websocket_proxy_read_timeout) and so on (the O(name)
      without its C(vhosts) suffix). The timeouts are required; any other key left out takes the role's own
      default, read from roles/websocket_proxy/defaults/main.yml (the defaults below are those).
    type: dict
    required: true
    suboptions:
      read_timeout:
        description: Default read timeout of a location (a duration, see P(wsproxy.nginx.nginx_duration#filter)).
        required: true
      send_timeout:
        description: Default send timeout of a location.
        required: true
      connect_timeout:
        description: Default connect timeout of a location.
        required: true
      upstream_keepalive:
        description: Idle backend connections each nginx worker keeps per upstream block (0-10000); 0 writes upstream
          blocks only for list backends, without keepalive.
        type: int
        default: 32
      resolver:
        description: DNS servers for dynamic backends, each an IPv4 address, a bracketed IPv6 address or a host name
          (resolved once, when nginx loads the config), optionally with V(:port); for Docker service names
          V(['127.0.0.11']). Empty, no backend is dynamic.
        type: list
        elements: str
        default: []
      resolver_valid:
        description: How long nginx keeps a resolved address before asking again (whole seconds, not zero).
        default: 10s
      client_max_body_size:
        description: Default largest request body of a location.
        default: 1m
      limit_conn:
        description: Default open WebSockets per client address of a WebSocket location (0, no limit).
        type: int
        default: 0
      handshake_rate:
        description: Default WebSocket handshakes per minute per client address (0, no limit).
        type: int
        default: 0
      handshake_burst:
        description: Default handshakes a client may make at once beyond handshake_rate.
        type: int
        default: 10
      hsts_max_age:
        description: Default Strict-Transport-Security max-age of a TLS vhost (0 sends none).
        type: int
        default: 0
      frame_size:
        description: Default frame-size hint of a WebSocket location (V(640), V(16k)), which fits its
          C(proxy_buffer_size); empty, no hint.
        default: ""
  name:
    description: The variable path named in error messages.
    type: str
    default: websocket_proxy_vhosts
  layout:
    description: The OS layout (the role's vars/<os_family>.yml without its C(__websocket_proxy_) prefix). Given,
      every vhost gets V(files), the paths it owns on that layout; left out, none.
    type: dict
    suboptions:
      vhost_dir:
        description: Where server blocks are written (V(/etc/nginx/sites-available), V(/etc/nginx/conf.d)).
        required: true
      vhost_enabled_dir:
        description: Where a link enables each one (V(/etc/nginx/sites-enabled)); empty, no links.
        required: true
      vhost_prefix:
        description: Prefix of the server block's file name (V(vhost-) on RedHat, empty on Debian).
        required: true
      snippet_dir:
        description: Where snippets are written (P(wsproxy.nginx.websocket_snippets#filter)).
        required: true
"""

EXAMPLES = r"""
- name: Validate and normalise websocket_proxy_vhosts
  ansible.builtin.set_fact:
    __websocket_proxy_vhosts: >-
      {{ websocket_proxy_vhosts | wsproxy.nginx.websocket_vhosts({
           'read_timeout': websocket_proxy_read_timeout,
           'send_timeout': websocket_proxy_send_timeout,
           'connect_timeout': websocket_proxy_connect_timeout,
           'upstream_keepalive': websocket_proxy_upstream_keepalive,
           'resolver': websocket_proxy_resolver,
           'resolver_valid': websocket_proxy_resolver_valid}) }}

# The next task sets normalised to:
# [{'name': 'api-calls', 'server_names': ['api-calls.example.com'],
#   'listen': [{'port': 80, 'ssl': False, 'default_server': False}], 'tls': None,
#   'locations': [{'modifier': '~', 'path': '^/api/(?:frontend-audio|call-events)(?:/|$)',
#                  'proxy_pass': 'http://localhost:5006', 'websocket': True, 'read_timeout': '1d',
#                  'send_timeout': '1d', 'connect_timeout': '1m', 'source': 'websocket_proxy_vhosts[0].locations[0]',
#                  'upstream': None, 'dynamic': False, 'proxy_pass_variable': None, 'resolver': None,
#                  'resolver_valid': None},
#                 {'modifier': '', 'path': '/api/', 'proxy_pass': 'http://localhost:5006', 'websocket': False, ...}],
#   'websocket_uris': ['/api/frontend-audio', '/api/call-events'], 'upstreams': [], 'resolver': None,
#   'resolver_valid': '10s', 'source': 'websocket_proxy_vhosts[0]'}]
- name: The seed's alternative layout, WebSocket endpoints under /api/ and one backend
  ansible.builtin.set_fact:
    normalised: >-
      {{ [{'server_name': 'api-calls.example.com', 'name': 'api-calls',
           'locations': [{'backend': 'localhost:5006', 'websocket_endpoints': ['frontend-audio', 'call-events']}]}]
         | wsproxy.nginx.websocket_vhosts({'read_timeout': '24h', 'send_timeout': '24h', 'connect_timeout': '60s'}) }}

# The next task sets scaled to (in part):
#   locations[0]: proxy_pass 'http://wsproxy_api_calls_1', upstream 'wsproxy_api_calls_1'
#   locations[1]: proxy_pass '$wsproxy_backend', dynamic True, proxy_pass_variable 'http://events:5007'
#   upstreams: [{'name': 'wsproxy_api_calls_1', 'servers': ['calls-1:5006', 'calls-2:5006'], 'keepalive': 32,
#                'source': 'websocket_proxy_vhosts[0].locations[0].backend'}]
#   resolver: ['127.0.0.11'], resolver_valid: '10s'
- name: Upstream keepalive, a list backend and a Docker service name re-resolved at run time
  ansible.builtin.set_fact:
    scaled: >-
      {{ [{'server_name': 'api-calls.example.com', 'name': 'api-calls',
           'locations': [{'backend': ['calls-1:5006', 'calls-2:5006']},
                         {'path': '/events/', 'backend': 'events:5007'}]}]
         | wsproxy.nginx.websocket_vhosts({'read_timeout': '24h', 'send_timeout': '24h', 'connect_timeout': '60s',
                                           'upstream_keepalive': 32, 'resolver': ['127.0.0.11']}) }}
"""

RETURN = r"""
_value:
  description: One normalised dict per vhost, in input order (keys in the description).
  type: list
  elements: dict
"""


@filter_errors
def websocket_vhosts(vhosts, defaults, name="websocket_proxy_vhosts", layout=None):
    """The filter: argument check, then plugin_utils.vhosts.websocket_vhosts."""
    if not isinstance(name, str):
        raise AnsibleFilterError(f"websocket_vhosts: name must be a string, got {name!r}")
    return _websocket_vhosts(vhosts, defaults, name=name, layout=layout)


class FilterModule:
    """wsproxy.nginx.websocket_vhosts"""

    def filters(self):
        return {"websocket_vhosts": websocket_vhosts}
