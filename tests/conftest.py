"""Shared pytest set-up: make the checkout importable as ansible_collections.wsproxy.nginx, and tests/ itself
importable for the helpers every test directory shares (nginx_helpers)."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
COLLECTIONS = REPO / "collections"

for path in (COLLECTIONS, TESTS):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
