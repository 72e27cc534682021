"""Production settings, read in a fresh interpreter as a deployment would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READ = (
    "import json, django; django.setup(); from django.conf import settings; "
    "db = settings.DATABASES['default']; "
    "print(json.dumps({'options': db.get('OPTIONS', {}), 'age': db['CONN_MAX_AGE']}))"
)


def _settings(**env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    base.update({"DJANGO_SETTINGS_MODULE": "marketplace.settings.production", **env})
    return subprocess.run(
        [sys.executable, "-c", READ], cwd=ROOT, env=base, capture_output=True, text=True
    )


def test_production_keeps_the_database_options_of_the_base_settings():
    done = _settings(DATABASE_URL="postgres://app@db.example:5432/app", SECRET_KEY="x" * 50)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"options": {"options": "-c jit=off"}, "age": 60}


def test_production_needs_a_database_url():
    done = _settings(SECRET_KEY="x" * 50)
    assert done.returncode != 0
    assert "DATABASE_URL" in done.stderr
