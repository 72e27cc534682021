"""Fuzz the v1 API with Schemathesis, once per role, against a throwaway server (`make fuzz`).

Builds a fresh SQLite database with the demo data in a temporary folder, then for
each role (a company member, a verified student, a coordinator, staff) copies it
afresh, serves it with `runserver` on a free loopback port, signs in and runs
`st run` on /api/schema/ with that bearer token, a fixed seed and a bounded number
of examples per operation; then stops the server. Exits non-zero on any finding.

    .venv/bin/python scripts/fuzz_api.py [--seed 42] [--max-examples 10] [--role student]
    .venv/bin/python scripts/fuzz_api.py --role company -- --include-path-regex bids

Arguments after `--` go to `st run` as they are. The checks are those that hold
for every answer (no 5xx, documented status, content type, body and headers);
failing cases are printed with a curl line to replay them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CONFIG = Path(__file__).with_suffix(".toml")  # fuzz_api.toml: Schemathesis' own settings
PASSWORD = "Escrow-Sunflower-42"  # projects.demo.services.DEMO_PASSWORD
ROLES = {
    "company": "claire@maisonlumen.example.com",
    "student": "lea@students.example.com",
    "coordinator": "coordinator.hec@campus-demo.example.com",
    "staff": "admin@campus-demo.example.com",
}
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(work: Path, port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "marketplace.settings.local",
            "DEBUG": "false",  # errors answer the API's JSON, tracebacks go to the log
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": f"sqlite:///{work / 'fuzz.sqlite3'}",
            "PRIVATE_FILES_ROOT": str(work / "files"),
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "CELERY_BROKER_URL": "",  # tasks in-process
            "STRIPE_SECRET_KEY": "",  # the dummy gateway
            "PAYMENT_GATEWAY": "dummy",
            # Set, so the webhooks check signatures instead of answering 503 "not configured".
            "STRIPE_WEBHOOK_SECRET": "whsec_fuzz",
            "STRIPE_CONNECT_WEBHOOK_SECRET": "whsec_fuzz_connect",
            # Sign-in and registration are fuzzed, not throttled after ten tries (429 stays
            # declared); tokens outlive the run.
            "AUTH_THROTTLE_RATE": "100000/minute",
            "JWT_ACCESS_MINUTES": "120",
            "SITE_URL": f"http://127.0.0.1:{port}",
            "LOG_LEVEL": "WARNING",
        }
    )
    env.pop("STORAGE_BACKEND", None)
    return env


def manage(env: dict[str, str], *args: str, log: Path) -> None:
    with log.open("a") as out:
        subprocess.run(  # noqa: S603
            [str(BIN / "python"), "manage.py", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
        )


def wait_for(url: str, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server stopped (exit {server.returncode}); see its log")
        try:
            with urllib.request.urlopen(url, timeout=5):  # noqa: S310 (loopback only)
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s")


def token(base: str, email: str) -> str:
    request = urllib.request.Request(  # noqa: S310 (loopback only)
        f"{base}/api/v1/auth/token/",
        data=json.dumps({"email": email, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as res:  # noqa: S310
        return json.load(res)["access"]


def fuzz_role(role: str, args: argparse.Namespace, work: Path, snapshot: Path) -> int:
    port = args.port or free_port()
    base = f"http://127.0.0.1:{port}"
    env = server_env(work, port)
    shutil.copyfile(snapshot, work / "fuzz.sqlite3")
    log = work / f"server-{role}.log"
    with log.open("w") as out:
        server = subprocess.Popen(  # noqa: S603
            [str(BIN / "python"), "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(f"{base}/health/", server)
        bearer = token(base, ROLES[role])
        command = [
            str(BIN / "st"),
            "--config-file",
            str(args.config_file),
            "run",
            f"{base}/api/schema/",
            "--header",
            f"Authorization: Bearer {bearer}",
            "--checks",
            ",".join(CHECKS),
            "--max-examples",
            str(args.max_examples),
            "--seed",
            str(args.seed),
            "--phases",
            args.phases,
            "--workers",
            "1",
            "--generation-database",
            "none",  # no examples replayed from earlier runs: the same seed, the same run
            "--suppress-health-check",
            "too_slow",  # the one health check that depends on the machine's speed
            "--no-color",
            *args.st_args,
        ]
        print(f"\n==> fuzzing as {role} ({ROLES[role]}) on {base}", flush=True)
        started = time.monotonic()
        code = subprocess.run(command, cwd=work, env=env).returncode  # noqa: S603
        print(f"==> {role}: exit {code} in {time.monotonic() - started:.0f} s", flush=True)
        if code != 0:
            errors = [line for line in log.read_text().splitlines() if "Error" in line]
            if errors:
                print(f"server log ({log}), lines naming an error:", *errors[-20:], sep="\n")
        return code
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", 42)))
    parser.add_argument(
        "--max-examples", type=int, default=int(os.environ.get("FUZZ_EXAMPLES", 10))
    )
    parser.add_argument(
        "--phases",
        default=os.environ.get("FUZZ_PHASES", "examples,fuzzing,stateful"),
        help="Schemathesis phases; add `coverage` for a deeper run (about 200 s more per role)",
    )
    parser.add_argument("--role", choices=list(ROLES), action="append", dest="roles")
    parser.add_argument("--config-file", type=Path, default=CONFIG, help=f"default: {CONFIG}")
    parser.add_argument("--port", type=int, default=0, help="default: a free one")
    parser.add_argument("--keep", action="store_true", help="keep the work folder and logs")
    parser.add_argument("st_args", nargs="*", help="after --: more `st run` arguments")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="fuzz-api-"))
    started = time.monotonic()
    try:
        env = server_env(work, 0)
        setup_log = work / "setup.log"
        manage(env, "migrate", "--noinput", log=setup_log)
        manage(env, "load_demo", log=setup_log)
        snapshot = work / "demo.sqlite3"
        shutil.move(work / "fuzz.sqlite3", snapshot)
        failed = [r for r in args.roles or list(ROLES) if fuzz_role(r, args, work, snapshot)]
    finally:
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    took = time.monotonic() - started
    if failed:
        print(f"\nfuzz: findings as {', '.join(failed)} ({took:.0f} s)")
        return 1
    print(f"\nfuzz: no findings ({took:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
