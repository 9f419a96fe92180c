"""Two Rasa servers (each with its own action server) on one Redis behind a real
nginx (Debian package) with round-robin: the scale-out tests' fixtures. Import
them into a test module; each module gets its own second server and nginx."""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from bot.redis_server import free_port
from bot.stack import Service, Stack

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@dataclass
class Balancer:
    url: str
    access_log: Path


@pytest.fixture(scope="module")
def second_server(stack, model_path, wechat, tmp_path_factory) -> Iterator[Stack]:
    """Rasa B and action server B on the same Redis as the session's stack (A)."""
    other = Stack(model=model_path, rasa_port=free_port(), actions_port=free_port(), console_port=free_port(),
                  rasa_token=stack.rasa_token, run_dir=tmp_path_factory.mktemp("stack_b"), redis_url=stack.redis_url,
                  persona=stack.persona, extra_env={**wechat.env(), "SANIC_WORKERS": "1"})
    try:
        other.start(redis_port=0, with_console=False, with_outbound=False)
        yield other
    finally:
        other.stop()


@pytest.fixture(scope="module")
def balancer(stack, second_server, tmp_path_factory) -> Iterator[Balancer]:
    """nginx round-robin over both Rasa servers; X-Upstream names the one that answered."""
    prefix = tmp_path_factory.mktemp("nginx")
    port = free_port()
    user = "user root;\n" if os.geteuid() == 0 else ""
    (prefix / "nginx.conf").write_text(f"""{user}worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
  log_format upstream '$upstream_addr $status';
  access_log {prefix}/access.log upstream;
  client_body_temp_path {prefix}/body; proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi; uwsgi_temp_path {prefix}/uwsgi; scgi_temp_path {prefix}/scgi;
  upstream rasa {{
    server 127.0.0.1:{stack.rasa_port};
    server 127.0.0.1:{second_server.rasa_port};
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://rasa;
      proxy_next_upstream off;  # a retry is WeChat's to make, not the proxy's
      add_header X-Upstream $upstream_addr always;
    }}
  }}
}}
""")
    service = Service("nginx", [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
                      f"http://127.0.0.1:{port}/", prefix / "nginx.log")
    service.start({**os.environ})
    try:
        service.wait(30)
        yield Balancer(f"http://127.0.0.1:{port}", prefix / "access.log")
    finally:
        service.stop()
