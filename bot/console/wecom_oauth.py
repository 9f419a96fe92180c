"""Guides who open the console from the WeCom app are signed in by WeCom's web OAuth
(issue 12, item 1): no password typed on a phone.

    GET /guide/login/wecom    -> WeCom's authorize page (snsapi_base), with a one-time `state`
    GET /guide/oauth/wecom    <- WeCom sends the guide back with `code` (single use, 5 min)

The code is exchanged for the WeCom userid with `cgi-bin/auth/getuserinfo` (the app's
access token), and the staff account whose `guide_userid` is that userid is signed in
(accounts are still made only by scripts/staff.py: WeCom proves who someone is, not
that they may use the console). `state` must come back in the cookie set on the way
out, so a link crafted elsewhere cannot sign a guide into someone else's account.
"""
from __future__ import annotations

import hmac
import html
import logging
import secrets
from urllib.parse import quote

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.console.staff import COOKIE_NAME, list_accounts, start_session
from bot.console.webchat import came_over_https
from bot.redis_conn import get_redis
from bot.wechat.api import ApiError, HttpJson, WeComAppClient
from common.env import env_str
from common.privacy import mask_id

logger = logging.getLogger(__name__)

STATE_COOKIE = "wecom_oauth_state"
STATE_TTL_S = 600
DEFAULT_OAUTH_BASE = "https://open.weixin.qq.com"
PAGE_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'", "Cache-Control": "no-store",
                "Referrer-Policy": "no-referrer"}
_HTTP = HttpJson()


def oauth_base() -> str:
    """WECOM_OAUTH_BASE: where WeCom's authorize page is (tests point it at the stand-in)."""
    return env_str("WECOM_OAUTH_BASE", DEFAULT_OAUTH_BASE).rstrip("/")


def public_base(request: Request) -> str:
    """CONSOLE_PUBLIC_URL (what WeCom's trusted domain names), else the address asked for."""
    return env_str("CONSOLE_PUBLIC_URL", f"{request.scheme}://{request.host}").rstrip("/")


def page(message: str, status: int, then: str = "") -> HTTPResponse:
    refresh = f'<meta http-equiv="refresh" content="0;url={html.escape(then)}">' if then else ""
    body = (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">{refresh}'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>导购工作台</title></head>'
            f'<body style="font-family:sans-serif;padding:24px"><p>{html.escape(message)}</p></body></html>')
    return response.html(body, status=status, headers=PAGE_HEADERS)


def wecom_oauth_blueprint() -> Blueprint:
    bp = Blueprint("wecom_oauth")

    @bp.get("/guide/login/wecom")
    async def start(request: Request) -> HTTPResponse:
        corp, agent = env_str("WECOM_CORP_ID"), env_str("WECOM_AGENT_ID")
        if not corp or not agent:
            return page("企业微信登录还没有配置，请用账号密码登录。", 503)
        state = secrets.token_urlsafe(18)
        target = (f"{oauth_base()}/connect/oauth2/authorize?appid={quote(corp)}"
                  f"&redirect_uri={quote(public_base(request) + '/guide/oauth/wecom', safe='')}"
                  f"&response_type=code&scope=snsapi_base&state={state}&agentid={quote(agent)}#wechat_redirect")
        answer = response.redirect(target)
        answer.cookies[STATE_COOKIE] = state
        morsel = answer.cookies[STATE_COOKIE]
        morsel["httponly"], morsel["samesite"], morsel["path"], morsel["max-age"] = True, "Lax", "/guide/oauth", STATE_TTL_S
        if came_over_https(request):
            morsel["secure"] = True
        return answer

    @bp.get("/guide/oauth/wecom")
    async def finish(request: Request) -> HTTPResponse:
        code, state = request.args.get("code") or "", request.args.get("state") or ""
        expected = request.cookies.get(STATE_COOKIE) or ""
        if not code or not expected or not hmac.compare_digest(state, expected):
            logger.warning("WeCom sign-in refused: state missing or not the one issued.")
            return page("登录链接无效或已过期，请从企业微信里重新打开导购工作台。", 403)
        client = WeComAppClient(env_str("WECOM_API_BASE", "https://qyapi.weixin.qq.com"), get_redis(),
                                env_str("WECOM_CORP_ID"), env_str("WECOM_SECRET"), env_str("WECOM_AGENT_ID"),
                                http=_HTTP)
        try:
            found = await client.get("/cgi-bin/auth/getuserinfo", {"code": code})
        except ApiError as error:  # 40029: the code was used already or expired
            logger.warning("WeCom sign-in refused: getuserinfo errcode %s.", error.errcode)
            return page("登录链接已失效，请从企业微信里重新打开导购工作台。", 401)
        userid = str(found.get("userid") or found.get("UserId") or "")
        accounts = [a for a in await list_accounts(get_redis())
                    if userid and a.guide_userid == userid and a.role == "guide" and not a.disabled]
        if not accounts:
            logger.warning("WeCom sign-in: no guide account for %s.", mask_id(userid or "(not a member)"))
            return page("你的企业微信账号还没有开通导购工作台，请联系运营同事。", 403)
        if len(accounts) > 1:  # which one they meant is not ours to guess
            logger.warning("WeCom sign-in: %d guide accounts share %s; refused.", len(accounts), mask_id(userid))
            return page("你的企业微信账号对应了不止一个导购账号，请联系运营同事处理。", 409)
        token, _ = await start_session(get_redis(), accounts[0])
        logger.info("Staff API: %s signed in through WeCom.", accounts[0].username)
        # A page, not a redirect: the session cookie is SameSite=Strict, and a redirect chain
        # that began on WeCom's site would not send it to /guide/.
        answer = page("登录成功，正在打开导购工作台…", 200, then="/guide/")
        answer.cookies[COOKIE_NAME] = token
        morsel = answer.cookies[COOKIE_NAME]
        morsel["httponly"], morsel["samesite"], morsel["path"] = True, "Strict", "/"
        if came_over_https(request):
            morsel["secure"] = True
        answer.cookies[STATE_COOKIE] = ""
        answer.cookies[STATE_COOKIE]["max-age"] = 0
        answer.cookies[STATE_COOKIE]["path"] = "/guide/oauth"
        return answer

    return bp
