"""Any API module can be imported first: a Celery worker renders the live push's JSON event
(capacity/live.py imports api.locations) without ever loading the URLs or api.v1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("module", ["api.locations", "api.units", "api.statistics", "api.search"])
def test_an_api_module_imports_on_its_own(module: str) -> None:
    code = f"import django; django.setup(); import {module}; import api.v1; print(len(api.v1.api.urls[0]))"
    result = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"DJANGO_SETTINGS_MODULE": "config.settings", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert int(result.stdout.strip()) > 10  # every router is on the API
