"""ACME: which certificates certbot has yet to get (acme_plan), and the doctor's rows for ACME vhosts (doctor_acme),
read from real openssl output of real certificates."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.wsproxy.nginx.plugins.filter.acme_plan import FilterModule as PlanFilters
from ansible_collections.wsproxy.nginx.plugins.filter.doctor_acme import FilterModule as DoctorFilters
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.acme import acme_failures, acme_plan, certificate_names
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.doctor_acme import doctor_acme


def certificate(directory: Path, names: list[str], days: int = 90) -> Path:
    path = directory / f"{names[0]}-{days}.pem"
    san = ",".join(f"DNS:{name}" for name in names)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", str(days), "-subj", f"/CN={names[0]}", "-addext", f"subjectAltName={san}",
         "-keyout", str(directory / "key.pem"), "-out", str(path)],
        check=True, capture_output=True,
    )  # fmt: skip
    return path


def openssl(*args: str) -> dict[str, Any]:
    run = subprocess.run(["openssl", "x509", "-noout", *args], capture_output=True, text=True, check=False)
    return {"rc": run.returncode, "stdout": run.stdout, "stderr": run.stderr}


def vhost(name: str, domains: list[str], cert: Path) -> dict[str, Any]:
    return {"name": name, "tls": {"certificate": str(cert), "acme": {"cert_name": name, "domains": domains}}}


def test_the_plan_gets_what_is_missing_and_what_no_longer_covers_the_names(tmp_path: Path) -> None:
    both = certificate(tmp_path, ["api.example.test", "calls.example.test"])
    results = [
        {"item": vhost("same", ["CALLS.example.test", "api.example.test"], both),
         **openssl("-ext", "subjectAltName", "-in", str(both))},
        {"item": vhost("grown", ["api.example.test", "calls.example.test", "new.example.test"], both),
         **openssl("-ext", "subjectAltName", "-in", str(both))},
        {"item": vhost("new", ["new.example.test"], tmp_path / "none.pem"),
         **openssl("-ext", "subjectAltName", "-in", str(tmp_path / "none.pem"))},
        {"skipped": True, "item": vhost("skipped", ["x.example.test"], both)},
    ]  # fmt: skip
    assert certificate_names(results[0]["stdout"]) == {"api.example.test", "calls.example.test"}
    assert acme_plan(results) == {"pending": ["new"], "issue": ["grown", "new"]}
    assert PlanFilters().filters()["acme_plan"]([]) == {"pending": [], "issue": []}
    with pytest.raises(AnsibleFilterError, match="is not the list of a loop's results"):
        PlanFilters().filters()["acme_plan"]("nope")


def test_the_doctor_reports_expiry_and_the_renewal_hook(tmp_path: Path) -> None:
    fresh = certificate(tmp_path, ["api.example.test"], 90)
    expiring = certificate(tmp_path, ["soon.example.test"], 5)
    results = [
        {"item": vhost("fresh", ["api.example.test"], fresh), **openssl("-enddate", "-serial", "-in", str(fresh))},
        {"item": vhost("soon", ["soon.example.test"], expiring),
         **openssl("-enddate", "-serial", "-in", str(expiring))},
        {"item": vhost("none", ["x.example.test"], tmp_path / "x.pem"),
         **openssl("-enddate", "-serial", "-in", str(tmp_path / "x.pem"))},
    ]  # fmt: skip
    hook = {"stat": {"exists": True, "executable": True, "path": "/etc/letsencrypt/renewal-hooks/deploy/wsproxy-nginx"}}
    now = datetime.now(UTC).timestamp()
    rows = {row["vhost"]: row for row in doctor_acme(results, hook, now)}
    assert rows["fresh"]["status"] == "ok" and rows["fresh"]["days_left"] in (88, 89) and rows["fresh"]["renewal_hook"]
    assert rows["fresh"]["line"].endswith("days); renewal hook in place") and rows["fresh"]["serial"]
    assert rows["soon"]["status"] == "warn" and "renewals are failing" in rows["soon"]["line"]
    assert rows["none"]["status"] == "broken" and "no certificate at" in rows["none"]["line"]
    # Without the hook a renewal never reaches nginx: a warning; past the expiry: broken.
    unhooked = doctor_acme(results[:1], {"stat": {"exists": False, "path": hook["stat"]["path"]}}, now)
    assert unhooked[0]["status"] == "warn" and "no renewal hook" in unhooked[0]["line"]
    later = doctor_acme(results[:1], hook, now + 100 * 86400)
    assert later[0]["status"] == "broken" and "EXPIRED" in later[0]["line"]
    with pytest.raises(AnsibleFilterError, match="is not a time in epoch seconds"):
        DoctorFilters().filters()["doctor_acme"]([], hook, "now")


def test_a_failed_issuance_names_the_vhost_and_what_the_ca_said() -> None:
    item = {"name": "calls", "tls": {"acme": {"cert_name": "calls", "domains": ["api.example.test", "b.example.test"]}}}
    stderr = (
        "Saving debug log to /var/log/letsencrypt/letsencrypt.log\n"
        "Certbot failed to authenticate some domains (authenticator: webroot). The Certificate Authority reported:\n"
        "  Domain: api.example.test\n  Type:   connection\n  Detail: 172.18.0.3: Fetching http://api.example.test/"
        ".well-known/acme-challenge/x: Connection refused\n\nHint: The Certificate Authority failed to download\n"
    )
    results = [{"rc": 0, "item": item}, {"rc": 1, "item": item, "stderr": stderr, "stdout": ""}]
    [line] = acme_failures(results)
    assert line.startswith("vhost calls (api.example.test, b.example.test): Certbot failed to authenticate")
    assert "Detail: 172.18.0.3: Fetching http://api.example.test/.well-known/acme-challenge/x: Connection" in line
    assert "Saving debug log" not in line
    down = (
        "An unexpected error occurred:\nrequests.exceptions.ConnectionError: HTTPSConnectionPool(host='pebble', "
        "port=14000): Max retries exceeded (Caused by NewConnectionError('Name or service not known'))\n"
        "Ask for help or search for solutions at https://community.letsencrypt.org.\n"
    )
    [line] = acme_failures([{"rc": 1, "item": item, "stderr": down}])
    assert line.endswith("An unexpected error occurred: requests.exceptions.ConnectionError: HTTPSConnectionPool("
                         "host='pebble', port=14000): Max retries exceeded (Caused by NewConnectionError('Name or "
                         "service not known'))"), line  # fmt: skip
    unknown = acme_failures([{"rc": 1, "item": item, "stderr": "something odd\n"}])
    assert unknown == ["vhost calls (api.example.test, b.example.test): something odd"]
