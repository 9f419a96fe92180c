#!/usr/bin/env bash
# Create or update the two pinned environments. Idempotent: an environment is
# rebuilt only when its lock file changed (stamp = sha256 of the lock file).
#   .venv/rasa     Python 3.10, Rasa 3.6.21 (Rasa server, console, channels, tests)
#   .venv/actions  Python 3.11, rasa-sdk + torch CPU + sentence-transformers (action server)
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {  # find_python 3.10 -> path of an interpreter of that version
  local want=$1 c
  for c in "python$want" /root/.pyenv/versions/"$want"*/bin/"python$want" /usr/bin/"python$want" /usr/local/bin/"python$want"; do
    if [ -x "$(command -v "$c" 2>/dev/null || echo "$c")" ] && "$c" -c "import sys; assert sys.version_info[:2] == tuple(map(int, '$want'.split('.')))" 2>/dev/null; then
      command -v "$c" 2>/dev/null || echo "$c"; return 0
    fi
  done
  if command -v pyenv >/dev/null; then
    local v; v=$(pyenv versions --bare | grep -E "^$want(\.|$)" | tail -1 || true)
    [ -n "$v" ] && { echo "$(pyenv root)/versions/$v/bin/python$want"; return 0; }
  fi
  echo "Python $want not found (install it, e.g. with pyenv)" >&2; return 1
}

ensure_env() {  # ensure_env NAME PYTHON_VERSION LOCKFILE...
  local name=$1 pyver=$2; shift 2
  local dir=".venv/$name" stamp=".venv/$name/.lock-sha256" want
  want=$(cat "$@" | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  echo "==> setting up $dir (Python $pyver)"
  [ -x "$dir/bin/python" ] || "$(find_python "$pyver")" -m venv "$dir"
  local args=(); for f in "$@"; do args+=(-r "$f"); done
  local log="$dir/install.log"
  if ! "$dir/bin/python" -m pip install -q "${args[@]}" >"$log" 2>&1; then
    grep -vE "^(WARNING: Location|  DEPRECATION)" "$log" | tail -30 >&2
    echo "pip install failed for $dir (full log: $log)" >&2
    return 1
  fi
  echo "$want" > "$stamp"
}

ensure_env rasa 3.10 requirements/rasa.txt
ensure_env actions 3.11 requirements/actions.txt

# Browser libraries the console serves (package.json: ECharts for the ops dashboard, at
# /vendor/echarts.min.js). `npm ci` only when node_modules is missing or package-lock.json
# changed (stamp = sha256 of the lock); npm itself comes from Debian when missing.
ensure_node_modules() {
  local stamp=node_modules/.lock-sha256 want log=node_modules.install.log
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f node_modules/echarts/dist/echarts.min.js ]; then
    return 0
  fi
  if ! command -v npm >/dev/null; then
    echo "==> installing npm for the console's browser libraries (Debian package)"
    if [ "$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq npm >/dev/null
  fi
  echo "==> installing the console's browser libraries (npm ci)"
  if ! npm ci --omit=dev --no-audit --no-fund --loglevel=error >".venv/$log" 2>&1; then
    tail -20 ".venv/$log" >&2
    echo "npm ci failed (full log: .venv/$log)" >&2
    return 1
  fi
  echo "$want" > "$stamp"
}
ensure_node_modules

# Browser tests need Chromium and CJK/emoji fonts, the scale-out test nginx
# (Debian packages); only `make test` asks for them.
if [ "${WITH_BROWSER:-0}" = "1" ] && { ! command -v chromium >/dev/null || ! fc-list 2>/dev/null | grep -qi microhei \
     || ! { command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; }; }; then
  echo "==> installing Chromium, fonts and nginx for the tests (Debian packages)"
  if [ "$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-wqy-microhei fonts-noto-color-emoji \
    nginx-light >/dev/null
fi

# Secrets are generated once into .env (git-ignored, mode 600): a missing or
# empty value gets a random one; a set value is never replaced (rotation: docs/deploy.md).
#   RASA_TOKEN              Rasa's HTTP API (console, make shell, tools)
#   ACTIONS_TOKEN           Rasa -> action server (endpoints.yml sends it)
#   CONSOLE_OPS_TOKEN       the console's ops API
#   CONSOLE_SESSION_SECRET  signs the web chat's sessions
#   MODEL_SERVER_TOKEN      Rasa -> the console's model server (endpoints.yml `models`)
touch .env && chmod 600 .env
for name in RASA_TOKEN ACTIONS_TOKEN CONSOLE_OPS_TOKEN CONSOLE_SESSION_SECRET MODEL_SERVER_TOKEN; do
  grep -qs "^$name=." .env && continue
  value=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  if grep -qs "^$name=\s*$" .env; then
    sed -i "s/^$name=\s*$/$name=$value/" .env
  else
    [ -z "$(tail -c 1 .env)" ] || echo >> .env  # keep KEY=VALUE on its own line
    echo "$name=$value" >> .env
  fi
  echo "==> generated $name into .env"
done
