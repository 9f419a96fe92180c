"""A Sanic app answering like the 公众号 and WeCom HTTP APIs, recording every call.

Real paths, JSON shapes and error codes for the endpoints the channels use.
Control endpoints under /_stand_in/ let tests read the record, queue 微信客服
messages for kf/sync_msg (customer, servicer (origin 5) and event messages; a
session_status_change moves the session as WeCom would), set what 公众号 user/info
answers per openid (/_stand_in/mp/users: unionid, subscribe, invalid), the
servicers of a kf account (/_stand_in/kf/servicers) and a session's state
(/_stand_in/kf/service_state), and force error codes (45015, 40001, ...).

微信客服 sessions follow WeCom's rules: service_state/trans only makes the changes
WeCom's table allows (95016 otherwise), kf/send_msg is refused (95018) unless the
session is 未处理 (0) or 智能助手 (1).
"""
from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any, Dict, Optional
from urllib.parse import quote

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.stand_in.state import ERRMSG, KF_SENDABLE, StandInState, error

SEND_PATHS = ("/cgi-bin/message/custom/send", "/cgi-bin/message/template/send", "/cgi-bin/kf/send_msg",
              "/cgi-bin/kf/send_msg_on_event",
              "/cgi-bin/message/send", "/cgi-bin/externalcontact/send_welcome_msg")


def create_app(name: str = "wechat_stand_in") -> Sanic:
    app = Sanic(name, configure_logging=False)
    state = StandInState()
    app.ctx.state = state

    def record(request: Request, answer: Dict[str, Any]) -> HTTPResponse:
        state.calls.append({
            "ts": time.time(), "method": request.method, "path": request.path,
            "query": {k: request.args.get(k) for k in request.args if k != "access_token"},
            "body": request.json if request.method == "POST" and request.body else None,
            "response": answer,
        })
        return response.json(answer, ensure_ascii=False)

    async def guarded(request: Request) -> Optional[Dict[str, Any]]:
        """Latency, token check and forced errors, in the order the real API applies them."""
        if state.latency_s:
            await asyncio.sleep(state.latency_s)
        token_problem = state.token_error(request.args.get("access_token"))
        if token_problem:
            return error(token_problem)
        forced = state.take_forced(request.path)
        return error(forced) if forced else None

    # --- tokens --------------------------------------------------------------
    @app.get("/cgi-bin/token")
    async def mp_token(request: Request) -> HTTPResponse:
        if not request.args.get("appid"):
            return record(request, error(41002))
        if not request.args.get("secret"):
            return record(request, error(41004))
        forced = state.take_forced(request.path)
        if forced:
            return record(request, error(forced))
        # The 公众号 API omits errcode on success.
        return record(request, {"access_token": state.issue_token(), "expires_in": 7200})

    @app.get("/cgi-bin/gettoken")
    async def wecom_token(request: Request) -> HTTPResponse:
        if not request.args.get("corpid"):
            return record(request, error(41002))
        if not request.args.get("corpsecret"):
            return record(request, error(41004))
        forced = state.take_forced(request.path)
        if forced:
            return record(request, error(forced))
        return record(request, {"errcode": 0, "errmsg": "ok", "access_token": state.issue_token(), "expires_in": 7200})

    # --- 公众号 --------------------------------------------------------------
    @app.post("/cgi-bin/message/custom/send")
    async def custom_send(request: Request) -> HTTPResponse:
        problem = await guarded(request)
        return record(request, problem or {"errcode": 0, "errmsg": "ok"})

    @app.post("/cgi-bin/message/template/send")
    async def template_send(request: Request) -> HTTPResponse:
        """模板消息: `client_msg_id` makes a repeat of the same openid + id a no-op (WeChat: one
        message per pair for 10 minutes); the repeat is answered ok but not delivered again."""
        problem = await guarded(request)
        if problem:
            return record(request, problem)
        body = request.json or {}
        if not body.get("touser") or not body.get("template_id") or not isinstance(body.get("data"), dict):
            return record(request, error(40058))
        pair = f"{body['touser']}:{body.get('client_msg_id') or ''}"
        if body.get("client_msg_id") and pair in state.template_ids:
            return record(request, {"errcode": 0, "errmsg": "ok", "msgid": state.template_ids[pair], "repeat": True})
        msgid = int(next(state.counter)) + 2000000000
        if body.get("client_msg_id"):
            state.template_ids[pair] = msgid
        return record(request, {"errcode": 0, "errmsg": "ok", "msgid": msgid})

    @app.get("/cgi-bin/user/info")
    async def mp_user_info(request: Request) -> HTTPResponse:
        problem = await guarded(request)
        return record(request, problem or state.mp_user_info(str(request.args.get("openid") or "")))

    # --- WeCom app ------------------------------------------------------------
    @app.post("/cgi-bin/message/send")
    async def message_send(request: Request) -> HTTPResponse:
        problem = await guarded(request)
        return record(request, problem or {"errcode": 0, "errmsg": "ok", "invaliduser": "", "invalidparty": "",
                                           "invalidtag": "", "msgid": state.new_msgid()})

    # --- 微信客服 ------------------------------------------------------------
    @app.post("/cgi-bin/kf/sync_msg")
    async def sync_msg(request: Request) -> HTTPResponse:
        problem = await guarded(request)
        if problem:
            return record(request, problem)
        body = request.json or {}
        queue = state.kf_queues.get(str(body.get("open_kfid") or ""), [])
        cursor = str(body.get("cursor") or "")
        try:
            start = int(cursor[1:]) if cursor else 0  # opaque to clients; "c<index>" here
        except ValueError:
            return record(request, error(95000))
        limit = max(1, min(int(body.get("limit") or 1000), 1000, state.page_size))
        page = queue[start:start + limit]
        end = start + len(page)
        return record(request, {"errcode": 0, "errmsg": "ok", "next_cursor": f"c{end}",
                                "has_more": 1 if end < len(queue) else 0, "msg_list": page})

    @app.post("/cgi-bin/kf/send_msg")
    async def kf_send(request: Request) -> HTTPResponse:
        problem = await guarded(request)
        body = request.json or {}
        current = state.kf_state(str(body.get("open_kfid") or ""), str(body.get("touser") or ""))
        if not problem and current["service_state"] not in KF_SENDABLE:
            problem = error(95018)  # 待接入池, 人工接待 and 已结束 sessions refuse the API's messages
        return record(request, problem or {"errcode": 0, "errmsg": "ok", "msgid": body.get("msgid") or state.new_msgid()})

    @app.post("/cgi-bin/kf/send_msg_on_event")
    async def kf_send_on_event(request: Request) -> HTTPResponse:
        problem = await guarded(request)
        body = request.json or {}
        return record(request, problem or {"errcode": 0, "errmsg": "ok", "msgid": body.get("msgid") or state.new_msgid()})

    @app.post("/cgi-bin/kf/service_state/get")
    async def service_state_get(request: Request) -> HTTPResponse:
        problem = await guarded(request)
        if problem:
            return record(request, problem)
        body = request.json or {}
        current = state.kf_state(str(body.get("open_kfid") or ""), str(body.get("external_userid") or ""))
        return record(request, {"errcode": 0, "errmsg": "ok", **current})

    @app.post("/cgi-bin/kf/service_state/trans")
    async def service_state_trans(request: Request) -> HTTPResponse:
        problem = await guarded(request)
        if problem:
            return record(request, problem)
        body = request.json or {}
        open_kfid, user = str(body.get("open_kfid") or ""), str(body.get("external_userid") or "")
        target, servicer = int(body.get("service_state") or 0), str(body.get("servicer_userid") or "")
        refused = state.trans_error(open_kfid, user, target, servicer)
        if refused:
            return record(request, error(refused))
        before = state.kf_state(open_kfid, user)["service_state"]
        state.set_kf_state(open_kfid, user, target, servicer)
        answer: Dict[str, Any] = {"errcode": 0, "errmsg": "ok"}
        # 回复语 code on the first change to 2/3, 结束语 code on 4
        if target == 4 or (target in (2, 3) and before in (0, 1)):
            answer["msg_code"] = "MSG_CODE_" + state.new_msgid()
        return record(request, answer)

    @app.get("/cgi-bin/kf/servicer/list")
    async def kf_servicer_list(request: Request) -> HTTPResponse:
        problem = await guarded(request)
        if problem:
            return record(request, problem)
        open_kfid = str(request.args.get("open_kfid") or "")
        if not open_kfid:
            return record(request, error(95000))
        return record(request, {"errcode": 0, "errmsg": "ok", "servicer_list": state.kf_servicers.get(open_kfid, [])})

    @app.post("/cgi-bin/kf/customer/batchget")
    async def kf_customer_batchget(request: Request) -> HTTPResponse:
        problem = await guarded(request)
        if problem:
            return record(request, problem)
        ids = (request.json or {}).get("external_userid_list")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            return record(request, error(40058))
        known = [str(i) for i in ids if str(i).startswith("wm") and str(i) not in state.kf_invalid]
        return record(request, {"errcode": 0, "errmsg": "ok", "customer_list": [state.kf_customer(i) for i in known],
                                "invalid_external_userid": [str(i) for i in ids if str(i) not in known]})

    # --- control (tests, people) ---------------------------------------------
    @app.get("/_stand_in/record")
    async def read_record(request: Request) -> HTTPResponse:
        path = request.args.get("path")
        calls = [c for c in state.calls if not path or c["path"] == path]
        return response.json({"calls": calls}, ensure_ascii=False)

    # --- WeCom web OAuth (企业微信网页授权): the authorize page and code -> userid ---------
    @app.get("/connect/oauth2/authorize")
    async def oauth_authorize(request: Request) -> HTTPResponse:
        """WeCom's page signs the member in and sends the browser back with a one-time code."""
        target = request.args.get("redirect_uri") or ""
        if not target or request.args.get("response_type") != "code" or not state.oauth_userid:
            return response.text("invalid request", status=400)
        code = "CODE" + secrets.token_hex(12)
        state.oauth_codes[code] = state.oauth_userid
        joiner = "&" if "?" in target else "?"
        return response.redirect(f"{target}{joiner}code={code}&state={quote(request.args.get('state') or '')}")

    @app.get("/cgi-bin/auth/getuserinfo")
    async def oauth_userinfo(request: Request) -> HTTPResponse:
        problem = await guarded(request)
        if problem:
            return record(request, problem)
        userid = state.oauth_codes.pop(request.args.get("code") or "", None)  # a code works once
        if userid is None:
            return record(request, error(40029))
        return record(request, {"errcode": 0, "errmsg": "ok", "userid": userid, "user_ticket": secrets.token_hex(8),
                                "expires_in": 1800})

    # --- 客户联系: 联系我 ways and the welcome a new customer gets ------------------------
    @app.post("/cgi-bin/externalcontact/add_contact_way")
    async def add_contact_way(request: Request) -> HTTPResponse:
        problem = await guarded(request)
        if problem:
            return record(request, problem)
        body = request.json or {}
        users = body.get("user") or []
        if body.get("type") not in (1, 2) or body.get("scene") not in (1, 2) or not users or \
                (body.get("type") == 1 and len(users) != 1):
            return record(request, error(40058))
        if len(str(body.get("state") or "")) > 30:
            return record(request, error(40097))
        config_id = secrets.token_hex(16)
        state.contact_ways[config_id] = body
        answer: Dict[str, Any] = {"errcode": 0, "errmsg": "ok", "config_id": config_id}
        if body.get("scene") == 2:
            answer["qr_code"] = f"https://wework.qpic.cn/wwpic/{config_id}/0"
        return record(request, answer)

    @app.post("/cgi-bin/externalcontact/add_msg_template")
    async def add_msg_template(request: Request) -> HTTPResponse:
        """企业群发: a task the sender (a guide) confirms in the WeCom client; ids the stand-in
        knows as invalid (kf_invalid) come back in fail_list, as WeCom lists non-contacts."""
        problem = await guarded(request)
        if problem:
            return record(request, problem)
        body = request.json or {}
        users = [str(u) for u in body.get("external_userid") or []]
        if body.get("chat_type", "single") != "single" or not users or len(users) > 10000 or \
                not (body.get("text") or {}).get("content"):
            return record(request, error(40058))
        return record(request, {"errcode": 0, "errmsg": "ok", "fail_list": [u for u in users if u in state.kf_invalid],
                                "msgid": f"msgGCAAA{secrets.token_hex(10)}"})

    @app.post("/cgi-bin/externalcontact/del_contact_way")
    async def del_contact_way(request: Request) -> HTTPResponse:
        problem = await guarded(request)
        if problem:
            return record(request, problem)
        found = state.contact_ways.pop(str((request.json or {}).get("config_id") or ""), None)
        return record(request, {"errcode": 0, "errmsg": "ok"} if found else error(41044))

    @app.post("/cgi-bin/externalcontact/send_welcome_msg")
    async def send_welcome_msg(request: Request) -> HTTPResponse:
        problem = await guarded(request)
        if problem:
            return record(request, problem)
        expiry = state.welcome_codes.pop(str((request.json or {}).get("welcome_code") or ""), None)
        if expiry is None or expiry < time.time():  # used once already, made up, or past its 20 s
            return record(request, error(41051))
        return record(request, {"errcode": 0, "errmsg": "ok"})

    @app.post("/_stand_in/contact/welcome_code")
    async def issue_welcome_code(_: Request) -> HTTPResponse:
        """The WelcomeCode WeCom puts in an add_external_contact event (the test sends the event)."""
        code = "WELCOME" + secrets.token_hex(10)
        state.welcome_codes[code] = time.time() + 20
        return response.json({"welcome_code": code})

    @app.post("/_stand_in/oauth/user")
    async def oauth_user(request: Request) -> HTTPResponse:
        state.oauth_userid = str((request.json or {}).get("userid") or "")
        return response.json({"userid": state.oauth_userid})

    @app.get("/_stand_in/sent")
    async def read_sent(_: Request) -> HTTPResponse:
        """Messages the APIs accepted (errcode 0), in order."""
        sent = [{"path": c["path"], "body": c["body"]} for c in state.calls
                if c["path"] in SEND_PATHS and c["response"].get("errcode") == 0 and not c["response"].get("repeat")]
        return response.json({"sent": sent}, ensure_ascii=False)

    @app.post("/_stand_in/kf/enqueue")
    async def kf_enqueue(request: Request) -> HTTPResponse:
        body = request.json or {}
        open_kfid = str(body.get("open_kfid") or "wkDEFAULT")
        queue = state.kf_queues.setdefault(open_kfid, [])
        ids = []
        for partial in body.get("messages") or []:
            message = {"msgid": state.new_msgid(), "open_kfid": open_kfid, "send_time": int(time.time()),
                       "origin": 3, **partial}
            if "text" in partial and "msgtype" not in partial:
                message["msgtype"] = "text"
            event = message.get("event")
            if isinstance(event, dict) and event.get("event_type") == "session_status_change" \
                    and int(event.get("change_type") or 0) in (1, 3) and "msg_code" not in event:
                event["msg_code"] = "MSG_CODE_" + state.new_msgid()  # WeCom sends one with 接入 and 结束
            state.kf_event_effect(open_kfid, message)
            queue.append(message)
            ids.append(message["msgid"])
        return response.json({"msgids": ids, "queued": len(queue)})

    @app.post("/_stand_in/kf/servicers")
    async def kf_servicers(request: Request) -> HTTPResponse:
        """{"open_kfid": ..., "servicer_list": [{"userid": "guide-lin", "status": 0}, {"department_id": 2}]}:
        what kf/servicer/list answers; once set, trans to 3 accepts only userids listed with status 0."""
        body = request.json or {}
        open_kfid = str(body.get("open_kfid") or "wkDEFAULT")
        state.kf_servicers[open_kfid] = [dict(s) for s in body.get("servicer_list") or []]
        return response.json({"servicers": len(state.kf_servicers[open_kfid])})

    @app.post("/_stand_in/kf/service_state")
    async def kf_force_state(request: Request) -> HTTPResponse:
        """Set a session's state as a servicer's WeCom client would (no transition rules, no event)."""
        body = request.json or {}
        open_kfid, user = str(body.get("open_kfid") or "wkDEFAULT"), str(body.get("external_userid") or "")
        state.set_kf_state(open_kfid, user, int(body.get("service_state") or 0), str(body.get("servicer_userid") or ""))
        return response.json(state.kf_state(open_kfid, user))

    @app.get("/_stand_in/kf/service_state")
    async def kf_read_state(request: Request) -> HTTPResponse:
        return response.json(state.kf_state(str(request.args.get("open_kfid") or "wkDEFAULT"),
                                            str(request.args.get("external_userid") or "")))

    @app.post("/_stand_in/kf/customers")
    async def kf_customers(request: Request) -> HTTPResponse:
        """Profiles batchget returns ({external_userid: {nickname, unionid, ...}}) and ids it calls invalid."""
        body = request.json or {}
        state.kf_customers.update({str(k): dict(v) for k, v in (body.get("customers") or {}).items()})
        state.kf_invalid.update(str(i) for i in body.get("invalid") or [])
        return response.json({"customers": len(state.kf_customers)})
    @app.post("/_stand_in/mp/users")
    async def mp_users(request: Request) -> HTTPResponse:
        """{"<openid>": {"unionid": "...", "subscribe": 0|1, "invalid": true}, ...}: what user/info answers."""
        body = request.json or {}
        for openid, fields in body.items():
            state.mp_users[str(openid)] = dict(fields or {})
        return response.json({"users": len(state.mp_users)})

    @app.post("/_stand_in/fail")
    async def force_failure(request: Request) -> HTTPResponse:
        body = request.json or {}
        errcode = int(body["errcode"])
        state.forced.setdefault(str(body["path"]), []).extend([errcode] * int(body.get("times", 1)))
        return response.json({"ok": True, "errmsg": ERRMSG.get(errcode, "error")})

    @app.post("/_stand_in/expire_tokens")
    async def expire_tokens(_: Request) -> HTTPResponse:
        state.expire_tokens()
        return response.json({"ok": True})

    @app.post("/_stand_in/config")
    async def configure(request: Request) -> HTTPResponse:
        body = request.json or {}
        state.page_size = int(body.get("page_size", state.page_size))
        state.latency_s = float(body.get("latency_s", state.latency_s))
        return response.json({"page_size": state.page_size, "latency_s": state.latency_s})

    @app.post("/_stand_in/reset")
    async def reset(_: Request) -> HTTPResponse:
        state.calls.clear()
        state.template_ids.clear()
        state.forced.clear()
        state.kf_queues.clear()
        state.service_states.clear()
        state.kf_servicers.clear()
        state.kf_customers.clear()
        state.kf_invalid.clear()
        state.mp_users.clear()
        state.oauth_codes.clear()
        state.welcome_codes.clear()
        state.contact_ways.clear()
        state.oauth_userid = ""
        state.tokens.clear()
        state.page_size, state.latency_s = 1000, 0.0
        return response.json({"ok": True})

    @app.get("/_stand_in/health")
    async def health(_: Request) -> HTTPResponse:
        return response.json({"status": "ok"})

    return app
