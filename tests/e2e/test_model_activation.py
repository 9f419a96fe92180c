"""Issue 13, item 5 on the real stack: every Rasa worker pulls the console's production
model with its own token; only an admin moves production, and only to a compared model;
a console training job validates, trains (or says nothing changed) and compares before
anything can go live. Activation and rollback on every worker, after a real training:
tests/e2e/test_ops_flow.py."""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import requests

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "ops-pass-" + secrets.token_hex(4)


def account(stack, role: str) -> requests.Session:
    name = f"{role}-{secrets.token_hex(3)}"
    extra: List[str] = ["--guide-userid", "guide-lin"] if role == "guide" else []
    made = subprocess.run([sys.executable, str(ROOT / "scripts" / "staff.py"), "add", name, "--role", role,
                           "--password-stdin", *extra], input=PASSWORD + "\n", capture_output=True, text=True,
                          timeout=60, env={**os.environ, "REDIS_URL": stack.redis_url, "PYTHONPATH": str(ROOT)})
    assert made.returncode == 0, made.stderr
    session = requests.Session()
    signed_in = session.post(f"{stack.console_url}/api/staff/login", json={"username": name, "password": PASSWORD},
                             timeout=10)
    assert signed_in.status_code == 200, signed_in.text
    session.headers["X-CSRF-Token"] = signed_in.json()["csrf_token"]
    return session


def overview(stack, session: requests.Session) -> Dict:
    answer = session.get(f"{stack.console_url}/api/ops/models", timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_model_server_needs_its_token_and_answers_if_none_match(stack):
    url = f"{stack.console_url}/models/production"
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, headers={"Authorization": f"Bearer {stack.rasa_token}"}, timeout=10).status_code == 401
    auth = {"Authorization": f"Bearer {stack.model_server_token}"}
    pulled = requests.get(url, headers=auth, timeout=60)
    assert pulled.status_code == 200 and pulled.headers["ETag"] == stack.model.name[: -len(".tar.gz")]
    assert len(pulled.content) == stack.model.stat().st_size
    again = requests.get(url, headers={**auth, "If-None-Match": pulled.headers["ETag"]}, timeout=10)
    assert again.status_code == 304 and not again.content


def test_only_an_admin_moves_production(stack):
    guide, ops = account(stack, "guide"), account(stack, "ops")
    assert guide.get(f"{stack.console_url}/api/ops/models", timeout=10).status_code == 403
    body = {"model": stack.model.name}
    assert ops.post(f"{stack.console_url}/api/ops/models/activate", json=body, timeout=10).status_code == 403
    admin = account(stack, "admin")
    no_csrf = requests.post(f"{stack.console_url}/api/ops/models/activate", json=body, cookies=admin.cookies,
                            timeout=10)
    assert no_csrf.status_code == 403
    assert guide.post(f"{stack.console_url}/api/ops/train", json={}, timeout=10).status_code == 403
    assert requests.post(f"{stack.console_url}/api/ops/train", json={}, cookies=ops.cookies,
                         timeout=10).status_code == 403  # ops may train, but not without the CSRF token
    # a model no training job compared with the live one cannot go live, even for an admin
    # (activation and rollback on every worker: tests/e2e/test_ops_flow.py)
    uncompared = stack.model.with_name(f"nlu-core-uncompared{secrets.token_hex(3)}.tar.gz")
    uncompared.write_bytes(b"never served")
    try:
        refused = admin.post(f"{stack.console_url}/api/ops/models/activate", json={"model": uncompared.name},
                             timeout=10)
        assert refused.status_code == 409 and "对比" in refused.json()["error"]
        assert overview(stack, admin)["production"] == stack.model.name
    finally:
        uncompared.unlink()


def test_a_training_job_validates_and_compares_and_says_when_nothing_changed(stack):
    ops = account(stack, "ops")
    started = ops.post(f"{stack.console_url}/api/ops/train", json={}, timeout=10)
    assert started.status_code == 202, started.text
    job_id = started.json()["id"]
    second = ops.post(f"{stack.console_url}/api/ops/train", json={}, timeout=10)
    assert second.status_code == 409  # one job at a time
    deadline = time.monotonic() + 900
    job: Dict = {}
    while time.monotonic() < deadline:
        job = ops.get(f"{stack.console_url}/api/ops/train/{job_id}", timeout=10).json()
        if job["status"] in ("done", "failed"):
            break
        time.sleep(3)
    assert job["status"] == "done", job
    assert job["train_kind"] == "unchanged" and job["model"] == stack.model.name  # the data did not change
    summary = job["summary"]
    assert summary["cases"] > 1000 and summary["changed"] == 0 and summary["candidate_accuracy"] > 0.8
    text, offset = "", 0
    while True:  # the whole log, followed chunk by chunk as the page does
        chunk = ops.get(f"{stack.console_url}/api/ops/train/{job_id}/log", params={"offset": offset}, timeout=10).json()
        text += chunk["text"]
        if chunk["offset"] == offset or chunk["offset"] >= chunk["size"]:
            break
        offset = chunk["offset"]
    assert "rasa data validate" in text and "nothing to train" in text
    report = ops.get(f"{stack.console_url}/api/ops/models/{stack.model.name}/comparison", timeout=10).json()
    assert report["summary"] == summary and report["labels"]


def test_the_ops_page_shows_every_worker_the_comparison_and_the_history(browser, stack):
    """Last in this module: the browser fixture's event loop stays open after it."""
    admin_name = f"admin-{secrets.token_hex(3)}"
    made = subprocess.run([sys.executable, str(ROOT / "scripts" / "staff.py"), "add", admin_name, "--role", "admin",
                           "--password-stdin"], input=PASSWORD + "\n", capture_output=True, text=True, timeout=60,
                          env={**os.environ, "REDIS_URL": stack.redis_url, "PYTHONPATH": str(ROOT)})
    assert made.returncode == 0, made.stderr
    context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(stack.console_url + "/ops/")
        page.locator("#username").fill(admin_name)
        page.locator("#password").fill(PASSWORD)
        page.locator("#login-form button").click()
        page.locator("#production", has_text=stack.model.name).wait_for(timeout=15000)
        rows = page.locator("#serving tbody tr", has_text=stack.model.name)
        rows.nth(1).wait_for(timeout=15000)  # both Rasa workers, each reporting
        assert rows.count() >= 2 and "在线" in rows.first.inner_text()
        # the training job of the test before compared this model: the report opens from the list
        page.locator("#models tbody tr", has_text="（线上）").locator("button", has_text="看对比").click()
        page.locator("#cmp-summary", has_text="测试消息").wait_for(timeout=15000)
        page.locator(".tab[data-view=history]").click()
        page.locator("#commits li").first.wait_for(timeout=15000)
        page.locator("#commits li").first.locator("button", has_text="看改动").click()
        page.locator("#diff div").first.wait_for(timeout=15000)
        assert page.locator("#diff").inner_text().startswith("── ")
    finally:
        context.close()
