"""Console staff accounts on the real console (bot/console/staff.py), tried as an
attacker would: accounts made only by the CLI, Argon2 hashes at rest, the same
answer for a wrong password and an unknown name, sessions in an HttpOnly
SameSite=Strict cookie that a sign-out or a disabled account ends on the server,
CSRF tokens on every state-changing request, guessing capped per account name."""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import List

import redis
import requests

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "guide-pass-" + secrets.token_hex(4)


def staff_cli(stack, *args: str, password: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "staff.py"), *args], input=password + "\n",
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "REDIS_URL": stack.redis_url, "PYTHONPATH": str(ROOT)})


def new_account(stack, role: str = "guide") -> str:
    name = f"{role}-{secrets.token_hex(3)}"
    extra: List[str] = ["--guide-userid", "guide-lin", "--display", "林导购"] if role == "guide" else []
    made = staff_cli(stack, "add", name, "--role", role, "--password-stdin", *extra, password=PASSWORD)
    assert made.returncode == 0, made.stderr
    return name


def login(stack, name: str, password: str = PASSWORD) -> requests.Response:
    return requests.post(f"{stack.console_url}/api/staff/login", json={"username": name, "password": password},
                         timeout=10)


def test_a_guide_signs_in_with_a_session_cookie_the_page_cannot_read(stack):
    name = new_account(stack)
    answer = login(stack, name)
    assert answer.status_code == 200, answer.text
    me = answer.json()
    assert (me["username"], me["role"], me["guide_userid"], me["display"]) == (name, "guide", "guide-lin", "林导购")
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert PASSWORD not in str(redis.Redis.from_url(stack.redis_url).hgetall(f"console:staff:{name}"))  # hashed
    again = requests.get(f"{stack.console_url}/api/staff/me", cookies=answer.cookies, timeout=10)
    assert again.status_code == 200 and again.json()["username"] == name
    assert requests.get(f"{stack.console_url}/api/staff/me", timeout=10).status_code == 401


def test_a_wrong_password_and_an_unknown_name_get_the_same_answer(stack):
    name = new_account(stack)
    wrong = login(stack, name, "not-the-password")
    unknown = login(stack, f"nobody-{secrets.token_hex(3)}")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() and "Set-Cookie" not in wrong.headers


def test_a_state_changing_request_needs_the_session_s_csrf_token(stack):
    name = new_account(stack, role="ops")
    signed_in = login(stack, name)
    url = f"{stack.console_url}/api/staff/logout"
    assert requests.post(url, cookies=signed_in.cookies, timeout=10).status_code == 403  # no token
    assert requests.post(url, cookies=signed_in.cookies, headers={"X-CSRF-Token": "forged"},
                         timeout=10).status_code == 403
    other = login(stack, new_account(stack, role="ops"))  # another session's token is no good either
    assert requests.post(url, cookies=signed_in.cookies, headers={"X-CSRF-Token": other.json()["csrf_token"]},
                         timeout=10).status_code == 403
    assert requests.post(url, cookies=signed_in.cookies, headers={"X-CSRF-Token": signed_in.json()["csrf_token"]},
                         timeout=10).status_code == 200
    # signed out on the server: the old cookie is nothing now
    assert requests.get(f"{stack.console_url}/api/staff/me", cookies=signed_in.cookies, timeout=10).status_code == 401


def test_disabling_an_account_ends_its_sessions_and_refuses_sign_in(stack):
    name = new_account(stack)
    signed_in = login(stack, name)
    assert staff_cli(stack, "disable", name).returncode == 0
    assert requests.get(f"{stack.console_url}/api/staff/me", cookies=signed_in.cookies, timeout=10).status_code == 401
    assert login(stack, name).status_code == 401
    assert staff_cli(stack, "enable", name).returncode == 0
    assert login(stack, name).status_code == 200


def test_guessing_one_account_s_password_is_capped(stack):
    name = new_account(stack)
    answers = [login(stack, name, f"guess-{i:04d}x").status_code for i in range(10)]
    assert answers == [401] * 10
    capped = login(stack, name)  # even the right password, while capped
    assert capped.status_code == 429 and int(capped.headers["Retry-After"]) > 0
    assert login(stack, new_account(stack)).status_code == 200  # other accounts are unaffected


def test_the_cli_refuses_weak_passwords_and_guides_without_a_wecom_userid(stack):
    short = staff_cli(stack, "add", f"ops-{secrets.token_hex(3)}", "--role", "ops", "--password-stdin", password="short")
    assert short.returncode == 2 and "at least" in short.stderr
    no_userid = staff_cli(stack, "add", f"g-{secrets.token_hex(3)}", "--role", "guide", "--password-stdin",
                          password=PASSWORD)
    assert no_userid.returncode == 2 and "guide-userid" in no_userid.stderr
