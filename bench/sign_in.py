"""What one sign-in costs the portal, by method, on the production topology (issue 13).

Usage (from the project root)::

    .venv/bin/python bench/sign_in.py [--sign-ins 120] [--web 2] [--json]

Seeds ``--sign-ins`` cadres per method into a fresh ``BENCH_SIGNIN_DATABASE_URL`` (default
``postgres://postgres@127.0.0.1:5432/zhixing_signinbench``), gives them 浙政钉 employee
codes and mobile numbers, starts ``scripts/serve.sh`` (``make serve``: nginx → ``--web``
daphne → PgBouncer, Celery; DEBUG=false) against fakes of the 浙政钉 platform and of
Aliyun SMS that run in *this* process (over real HTTP), then signs the cadres in from one
address, 16 at a time, each in its own cookie jar, three ways in the same run:

* **password**: GET the sign-in page, POST username + password (PBKDF2, Django's default);
* **浙政钉**: POST ``/accounts/zwdd/login/``, GET the platform's QR page, follow the
  cadre's confirmation to the callback (app token shared through Redis, one
  ``getuserinfo_bycode`` per sign-in);
* **SMS code**: GET the code page, POST the number, GET the confirmation page, POST the code
  the fake SMS provider received.

For each: signed in / other outcomes, seconds, sign-ins per minute, and the CPU seconds the
whole serving process group used (read from ``/proc``: nginx, daphne, PgBouncer, Celery —
not the clients or the fakes) per sign-in; the ratios against the password sign-in.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/zhixing_signinbench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/8"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from _support import free_port, manage_py, recreate_database, serve_start, serve_stop  # noqa: E402

TOKEN_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CLK_TCK = os.sysconf("SC_CLK_TCK")


def group_cpu_by_pid(pgid: int) -> dict[int, float]:
    """User + system CPU seconds of every live process in the process group (``/proc``)."""
    found: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 of stat: the process group
            found[int(entry)] = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime
    return found


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two readings: processes alive at both (their growth) plus those
    started since. A process that exited meanwhile is not counted (an undercount, never a
    negative figure: Celery and the supervisor may restart workers)."""
    return sum(max(0.0, cpu - before.get(pid, 0.0)) for pid, cpu in after.items())


async def _run(
    base: str, count: int, one: Callable[[Any, int], Awaitable[bool]], pgid: int
) -> dict[str, Any]:
    import httpx

    gate = asyncio.Semaphore(16)
    outcomes = {"signed_in": 0, "other": 0}

    async def wrapped(i: int) -> None:
        async with gate, httpx.AsyncClient(base_url=base, timeout=60) as http:
            try:
                ok = await one(http, i)
            except httpx.HTTPError as exc:
                sys.stderr.write(f"sign-in {i}: {exc!r}\n")
                ok = False
            outcomes["signed_in" if ok and "sessionid" in http.cookies else "other"] += 1

    cpu_before, started = group_cpu_by_pid(pgid), time.monotonic()
    await asyncio.gather(*(wrapped(i) for i in range(count)))
    seconds = time.monotonic() - started
    cpu = cpu_used(cpu_before, group_cpu_by_pid(pgid))
    return {
        **outcomes,
        "seconds": round(seconds, 1),
        "per_minute": round(outcomes["signed_in"] / seconds * 60, 1),
        "server_cpu_s_per_sign_in": round(cpu / max(outcomes["signed_in"], 1), 4),
    }


def _token(text: str) -> str:
    found = TOKEN_RE.search(text)
    if found is None:
        raise ValueError("no CSRF token")
    return found[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sign-ins", type=int, default=120)
    parser.add_argument("--web", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    n = options.sign_ins

    from tests.fakes.providers import AliyunSmsFake
    from tests.fakes.zwdd import ZwddLoginFake, ZwddPlatformFake

    api = ZwddPlatformFake().start()
    login = ZwddLoginFake(api).start()
    sms = AliyunSmsFake().start()

    db_url = os.environ.get("BENCH_SIGNIN_DATABASE_URL", DEFAULT_DB)
    redis_url = os.environ.get("BENCH_SIGNIN_REDIS_URL", DEFAULT_REDIS)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_ALLOW", "ZHIXING_"))},
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": uuid.uuid4().hex * 2,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        "ZWDD_LOGIN_BASE": login.url,
        "ZWDD_API_BASE": api.url,
        "ZWDD_CLIENT_ID": api.client_id,
        "ZWDD_APP_KEY": api.app_key,
        "ZWDD_APP_SECRET": api.secret,
        "NOTIFY_SMS_PROVIDER": "aliyun",
        "NOTIFY_SMS_ENDPOINT": sms.url,
        "NOTIFY_SMS_ACCESS_KEY_ID": "ak",
        "NOTIFY_SMS_ACCESS_KEY_SECRET": sms.secret,
    }
    import redis

    recreate_database(db_url)
    base_db = int(redis_url.rsplit("/", 1)[1])
    for i in range(4):
        redis.Redis.from_url(f"{redis_url.rsplit('/', 1)[0]}/{base_db + i}").flushdb()
    for args in (["migrate", "--noinput", "-v0"], ["seed_demo", "--cadres", str(3 * n), "--force"]):
        done = manage_py(args, {**env, "DEBUG": "true"})
        if done.returncode != 0:
            sys.stderr.write(done.stdout + done.stderr)
            return 1
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connection

    from demo.seed import CADRE_USERNAME_PREFIX, DEMO_PASSWORD
    from portal.models import User

    names = [f"{CADRE_USERNAME_PREFIX}{i:06d}" for i in range(1, 3 * n + 1)]
    users = {u.username: u for u in User.objects.filter(username__in=names)}
    password_users = names[:n]
    zwdd_users = names[n : 2 * n]
    sms_users = names[2 * n :]
    for i, name in enumerate(zwdd_users):
        User.objects.filter(pk=users[name].pk).update(zwdd_employee_code=f"GE_BENCH_{i:06d}")
        api.add_user(str(900000 + i), employee_code=f"GE_BENCH_{i:06d}", name=name)
    phones = [f"1390{i:07d}" for i in range(n)]
    for name, phone in zip(sms_users, phones, strict=True):
        User.objects.filter(pk=users[name].pk).update(phone=phone)
    connection.close()

    result: dict[str, Any] = {"benchmark": "signin", "web_processes": options.web, "n": n}

    async def by_password(http: Any, i: int) -> bool:
        page = await http.get("/accounts/login/")
        r = await http.post(
            "/accounts/login/",
            data={
                "login": password_users[i],
                "password": DEMO_PASSWORD,
                "csrfmiddlewaretoken": _token(page.text),
            },
            headers={"Referer": f"{base}/accounts/login/"},
        )
        return bool(r.status_code == 302)

    async def by_zwdd(http: Any, i: int) -> bool:
        page = await http.get("/accounts/login/")
        start = await http.post(
            "/accounts/zwdd/login/",
            data={"csrfmiddlewaretoken": _token(page.text)},
            headers={"Referer": f"{base}/accounts/login/"},
        )
        import httpx

        async with httpx.AsyncClient(timeout=30) as platform:
            qr = await platform.get(start.headers["location"])
        link = re.search(rf'data-account="{900000 + i}" href="([^"]+)"', qr.text)
        if start.status_code != 302 or link is None:
            return False
        callback = link[1].replace("&amp;", "&")
        r = await http.get(callback)
        return bool(r.status_code == 302)

    async def by_sms(http: Any, i: int) -> bool:
        page = await http.get("/accounts/login/code/")
        sent = await http.post(
            "/accounts/login/code/",
            data={"phone": phones[i], "csrfmiddlewaretoken": _token(page.text)},
            headers={"Referer": f"{base}/accounts/login/code/"},
        )
        if sent.status_code != 302:
            return False
        confirm_url = urljoin(base, sent.headers["location"])
        confirm = await http.get(confirm_url)
        code = next(json.loads(s.text)["code"] for s in sms.sent if s.address == phones[i])
        r = await http.post(
            confirm_url,
            data={"code": code, "csrfmiddlewaretoken": _token(confirm.text)},
            headers={"Referer": confirm_url},
        )
        return bool(r.status_code == 302)

    served = serve_start(env=env, prefix="zx-signin", web=options.web, web_base_port=free_port())
    base = served.base
    try:
        time.sleep(3)  # let the processes settle (imports, first connections)
        for name, flow in (("password", by_password), ("zwdd", by_zwdd), ("sms_code", by_sms)):
            result[name] = asyncio.run(_run(base, n, flow, served.process.pid))
        pw = result["password"]["server_cpu_s_per_sign_in"]
        for name in ("zwdd", "sms_code"):
            result[name]["cpu_vs_password"] = round(
                result[name]["server_cpu_s_per_sign_in"] / max(pw, 1e-9), 3
            )
    finally:
        serve_stop(served)
        for fake in (login, api, sms):
            fake.stop()

    if options.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(json.dumps(result, ensure_ascii=False, indent=1))
    parts = [
        f"{name} {result[name]['signed_in']}/{n} in {result[name]['seconds']} s "
        f"({result[name]['per_minute']}/min, {result[name]['server_cpu_s_per_sign_in']} "
        "server CPU-s each)"
        for name in ("password", "zwdd", "sms_code")
    ]
    print(
        f"sign-in ({options.web} web, one address, 16 at a time): "
        + "; ".join(parts)
        + f"; CPU vs password: 浙政钉 {result['zwdd']['cpu_vs_password']:.1%}, "
        f"SMS code {result['sms_code']['cpu_vs_password']:.1%}"
    )
    return 0 if all(result[k]["other"] == 0 for k in ("password", "zwdd", "sms_code")) else 1


if __name__ == "__main__":
    raise SystemExit(main())
