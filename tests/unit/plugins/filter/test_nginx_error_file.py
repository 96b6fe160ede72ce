"""nginx_error_file: the file:line a real nginx -t error names."""

from __future__ import annotations

import subprocess

from ansible_collections.wsproxy.nginx.plugins.filter.nginx_error_file import FilterModule

nginx_error_file = FilterModule().filters()["nginx_error_file"]


def test_names_the_broken_file_from_a_real_nginx(tmp_path):
    (tmp_path / "broken.conf").write_text("server {\n    listen 8080;\n    bogus_directive on;\n}\n")
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n    access_log off;\n    include {tmp_path}/broken.conf;\n}}\n"
    )
    run = subprocess.run(["/usr/sbin/nginx", "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                         capture_output=True, text=True, check=False)
    assert run.returncode != 0
    assert nginx_error_file(run.stderr) == f"{tmp_path}/broken.conf:3"


def test_nothing_named_is_an_empty_string():
    assert nginx_error_file("nginx: configuration file /etc/nginx/nginx.conf test is successful\n") == ""
    assert nginx_error_file(None) == ""
