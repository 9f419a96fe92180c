"""The processes, tried as an attacker on the network would: the action
server refuses callers without ACTIONS_TOKEN, every process listens on
loopback only, and Rasa answers no cross-origin request with a wildcard."""
from __future__ import annotations

import ipaddress
import secrets
from typing import Dict, List, Set

import psutil
import pytest
import requests

from bot.redis_server import free_port
from bot.stack import Stack

EVIL_ORIGIN = "http://evil.example"


def action_call(action: str, sender_id: str) -> Dict:
    """The body Rasa POSTs to the action server for one custom action."""
    return {
        "next_action": action,
        "sender_id": sender_id,
        "version": "3.6.21",
        "domain": {},
        "tracker": {
            "sender_id": sender_id, "slots": {}, "latest_message": {"intent": {}, "entities": [], "text": ""},
            "latest_event_time": None, "followup_action": None, "paused": False, "events": [],
            "latest_input_channel": "rest", "latest_action_name": "action_listen", "active_loop": {},
        },
    }


# --- Rasa -> action server: the shared secret ---------------------------------


def test_action_server_refuses_a_call_without_the_secret(stack: Stack):
    call = action_call("action_checkin_status", f"web:attacker-{secrets.token_hex(3)}")
    anonymous = requests.post(f"{stack.actions_url}/webhook", json=call, timeout=30)
    assert anonymous.status_code == 401
    assert "responses" not in anonymous.json()  # the action did not run


def test_action_server_refuses_a_wrong_secret(stack: Stack):
    call = action_call("action_checkin_status", f"web:attacker-{secrets.token_hex(3)}")
    for header in (f"Bearer {stack.actions_token[:-2]}xx", f"Bearer {stack.rasa_token}", stack.actions_token, "Bearer "):
        answer = requests.post(f"{stack.actions_url}/webhook", json=call, headers={"Authorization": header}, timeout=30)
        assert answer.status_code == 401, header
    # the secret is not accepted in the URL either, nor is the action list public
    assert requests.post(f"{stack.actions_url}/webhook", params={"token": stack.actions_token},
                         json=call, timeout=30).status_code == 401
    assert requests.get(f"{stack.actions_url}/actions", timeout=30).status_code == 401


def test_action_server_runs_the_action_for_the_secret(stack: Stack):
    call = action_call("action_checkin_status", f"web:e2e-secure-{secrets.token_hex(3)}")
    answer = requests.post(f"{stack.actions_url}/webhook", json=call,
                           headers={"Authorization": f"Bearer {stack.actions_token}"}, timeout=30)
    assert answer.status_code == 200
    assert [r.get("response") for r in answer.json()["responses"]] == ["utter_checkin_status_none"]
    assert requests.get(f"{stack.actions_url}/health", timeout=30).status_code == 200  # probes stay open


def test_a_chat_turn_needing_a_custom_action_works_through_rasa(chat):
    reply = chat.texts("我要签到")
    assert "已连续签到" in reply or "连续签到 1 天" in reply, reply  # the check-in action answered
    assert "开了个小差" not in reply and "抱歉" not in reply  # not the outage apology


# --- nothing listens beyond loopback -------------------------------------------


def listen_addresses(pid: int) -> Set[str]:
    """Every address a process and its children listen on (TCP LISTEN, UDP bound)."""
    root = psutil.Process(pid)
    found: Set[str] = set()
    for process in [root] + root.children(recursive=True):
        try:
            connections = process.net_connections(kind="inet")
        except psutil.NoSuchProcess:
            continue
        for conn in connections:
            if conn.status == psutil.CONN_LISTEN or (conn.type == 2 and not conn.raddr):  # 2: SOCK_DGRAM
                found.add(conn.laddr.ip)
    return found


def is_loopback(address: str) -> bool:
    return ipaddress.ip_address(address.split("%")[0]).is_loopback


def stack_processes(stack: Stack) -> Dict[str, int]:
    pids = {name: service.process.pid for name, service in stack.services.items() if service.process}
    if stack.redis and stack.redis.process:
        pids["redis"] = stack.redis.process.pid
    return pids


def test_nothing_the_stack_starts_listens_beyond_loopback(stack: Stack):
    stand_in = stack.stand_in_service(free_port())
    stack.start_service(stand_in, timeout_s=60)
    try:
        pids = stack_processes(stack)
        assert {"redis", "actions", "rasa", "console", "outbound", "stand_in"} <= set(pids)
        exposed: List[str] = []
        for name, pid in pids.items():
            addresses = listen_addresses(pid)
            if name == "outbound":  # it only calls out: nothing to listen on at all
                assert addresses == set(), f"the outbound worker listens on {addresses}"
                continue
            assert addresses, f"{name} listens nowhere? (the check would be vacuous)"
            exposed += [f"{name} on {a}" for a in addresses if not is_loopback(a)]
        assert not exposed, f"listening beyond loopback: {exposed}"
    finally:
        stand_in.stop()
        stack.services.pop("stand_in", None)


# --- no wildcard CORS ------------------------------------------------------------


@pytest.mark.parametrize("path", ["/webhooks/rest/webhook", "/model/parse", "/conversations/x/tracker", "/"])
def test_rasa_grants_no_cross_origin_access(stack: Stack, path: str):
    preflight = requests.options(
        f"{stack.rasa_url}{path}", timeout=30,
        headers={"Origin": EVIL_ORIGIN, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization, content-type"},
    )
    simple = requests.get(f"{stack.rasa_url}{path}", headers={"Origin": EVIL_ORIGIN}, timeout=30)
    for answer in (preflight, simple):
        allowed = answer.headers.get("Access-Control-Allow-Origin")
        assert allowed not in ("*", EVIL_ORIGIN), f"{answer.request.method} {path}: {allowed}"
        assert "Access-Control-Allow-Credentials" not in answer.headers


# --- no secret on a command line (ps shows it to every user of the machine) ---


def test_no_secret_is_on_a_command_line(stack: Stack):
    secrets_in_use = [stack.rasa_token, stack.actions_token, stack.console_ops_token, stack.console_session_secret]
    for name, service in stack.services.items():
        root = psutil.Process(service.process.pid)
        for process in [root] + root.children(recursive=True):
            command_line = " ".join(process.cmdline())
            assert command_line, f"{name}: no command line read, the check would be vacuous"
            assert not any(secret in command_line for secret in secrets_in_use), f"{name}: a secret in `ps`"
