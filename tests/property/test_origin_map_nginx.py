"""allowed_origins against real nginx: the role's map template decides exactly as Origin.allows() says.

Hypothesis makes allowlists (exact origins, wildcards, ports, letter case) and, for each, Origin headers near
them: the allowed values in other letter case, with a port, another scheme, a subdomain, the name glued into a
longer one or followed by another domain, 'null', empty, free text. The normaliser turns each allowlist into
a map (websocket_vhosts), the role's own templates (origin_maps.conf.j2, websocket_map.conf.j2 for
$wsproxy_upgrade) are rendered with Jinja as Ansible does, and one nginx answers every (allowlist, Origin,
Upgrade) request through ``if ($variable) { return 403; }``. Every answer must match the Python reference:
plain requests (no Upgrade, or Upgrade: h2c) are never refused; a handshake is refused unless its Origin is
allowed, or absent (or empty) with allow_missing_origin.
"""

from __future__ import annotations

import http.client
from pathlib import Path

import jinja2
import wsproxy_strategies as strat
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.tokens import parse_origin
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.vhosts import websocket_vhosts
from hypothesis import given, settings
from hypothesis import strategies as st
from nginx_helpers import free_port, running_nginx

TEMPLATES = Path(__file__).resolve().parents[2] / "roles" / "websocket_proxy" / "templates"
DEFAULTS = {"read_timeout": "24h", "send_timeout": "24h", "connect_timeout": "60s"}
UPGRADES = [None, "websocket", "WebSocket", "h2c"]

label = st.from_regex(r"[a-z](?:[a-z0-9-]{0,6}[a-z0-9])?", fullmatch=True)
domain = st.lists(label, min_size=2, max_size=3).map(".".join)
port = st.one_of(st.none(), st.sampled_from([80, 443, 3000, 8443]))


def _origin(scheme: str, wildcard: bool, host: str, number: int | None) -> str:
    return f"{scheme}://{'*.' if wildcard else ''}{host}{'' if number is None else f':{number}'}"


allowed_origin = st.builds(_origin, st.sampled_from(["http", "https"]), st.booleans(), domain, port)
allowlist = st.lists(allowed_origin, min_size=1, max_size=3, unique_by=lambda o: str(parse_origin(o)))


def near(origin: str, how: int, extra: str) -> str:
    """A header value near an allowed origin (how picks the kind of neighbour)."""
    scheme, rest = origin.split("://", 1)
    host = rest.removeprefix("*.")
    if rest.startswith("*."):
        host = f"{extra}.{host}"
    variants = [
        f"{scheme}://{host}",
        f"{scheme}://{host}".upper(),
        f"{scheme}://{host}:8080",
        f"{'http' if scheme == 'https' else 'https'}://{host}",
        f"{scheme}://{extra}.{host}",
        f"{scheme}://{extra}{host}",
        f"{scheme}://{host}.{extra}.net",
        f"{scheme}://{host.partition('.')[2]}",
        f"{scheme}://{host}/",
        "null",
        "",
    ]
    return variants[how % len(variants)]


free_origin = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=30)


@st.composite
def case(draw):
    origins = draw(allowlist)
    count = draw(st.integers(4, 8))
    headers = [near(draw(st.sampled_from(origins)), draw(st.integers(0, 20)), draw(label)) for _n in range(count)]
    headers += [*draw(st.lists(free_origin, max_size=2)), None]
    return origins, draw(st.booleans()), headers


def reference(origins: list[str], allow_missing: bool, header: str | None, upgrade: str | None) -> int:
    if (upgrade or "").lower() != "websocket":
        return 200
    if not header:
        return 200 if allow_missing else 403
    return 200 if any(parse_origin(o).allows(header) for o in origins) else 403


def _flatten(items: list) -> list:
    """Ansible's flatten, one level (what the role's templates use it for)."""
    return [x for item in items for x in (item if isinstance(item, list) else [item])]


def render(template: str, **context) -> str:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), trim_blocks=True, undefined=jinja2.StrictUndefined
    )
    environment.filters["comment"] = lambda text: f"# {text}"
    environment.filters["flatten"] = _flatten
    return environment.get_template(template).render(ansible_managed="test", **context)


def test_nginx_allows_exactly_the_origins_the_reference_allows(tmp_path: Path, cases) -> None:
    examples = []

    @settings(strat.PROPERTY, max_examples=150)
    @given(case())
    def run(example) -> None:
        cases.add()
        examples.append(example)

    run()
    vhosts = websocket_vhosts(
        [
            {"name": f"t{i}", "server_name": f"t{i}.test", "locations": [
                {"backend": "127.0.0.1:9", "allowed_origins": origins, "allow_missing_origin": allow_missing}]}
            for i, (origins, allow_missing, _headers) in enumerate(examples)
        ],
        DEFAULTS,
    )
    listen = free_port()
    http_context = render("websocket_map.conf.j2", __websocket_proxy_vhosts=[], __websocket_proxy_snippets=[])
    locations = []
    for i, vhost in enumerate(vhosts):
        [origin_map] = vhost["origin_maps"]
        http_context += render("origin_maps.conf.j2", origin_maps=[origin_map])
        check = f'if (${origin_map["variable"]}) {{ return 403; }}'
        locations.append(f'        location = /t/{i} {{ {check} return 200 "ok"; }}')
    server = f"    server {{\n        listen 127.0.0.1:{listen};\n" + "\n".join(locations) + "\n    }\n"
    checked = disagreements = 0
    problems = []
    handshakes = {200: 0, 403: 0}  # verdicts on Upgrade: websocket, so that both kinds are proven
    with running_nginx(tmp_path, http_context + server, listen):
        conn = http.client.HTTPConnection("127.0.0.1", listen, timeout=10)
        for i, (origins, allow_missing, headers) in enumerate(examples):
            for header in headers:
                for upgrade in UPGRADES:
                    sent = {"Host": "probe.test"}
                    if header is not None:
                        sent["Origin"] = header
                    if upgrade is not None:
                        # As browsers send it: Upgrade needs an "upgrade" Connection option (RFC 9110 7.8).
                        sent["Upgrade"] = upgrade
                        sent["Connection"] = "keep-alive, Upgrade"
                    conn.request("GET", f"/t/{i}", headers=sent)
                    response = conn.getresponse()
                    response.read()
                    expected = reference(origins, allow_missing, header, upgrade)
                    checked += 1
                    if (upgrade or "").lower() == "websocket":
                        handshakes[expected] += 1
                    if response.status != expected:
                        disagreements += 1
                        problems.append((origins, allow_missing, header, upgrade, response.status, expected))
        conn.close()
    print(f"origin maps: {checked} requests, handshakes allowed/refused {handshakes[200]}/{handshakes[403]}")
    assert not problems, f"{disagreements} of {checked} disagree, e.g. {problems[:5]}"
    assert checked >= 3000
    assert min(handshakes.values()) >= 300, handshakes
