#!/usr/bin/env bash
# `make run` smoke test: from a fresh clone of the committed tree, the demo
# server starts on the embedded default (SQLite, eager Celery) and answers
# /healthz, /admin/login/ and /api/docs/. The server is stopped on exit.
set -euo pipefail
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
work=$(mktemp -d)
port=${SMOKE_PORT:-8765}
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill -- -"$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

git clone --quiet "$repo" "$work/shopops"
cd "$work/shopops"
setsid make run PORT="$port" > "$work/run.log" 2>&1 &
pid=$!

for _ in $(seq 1 240); do
  if curl -fsS "http://127.0.0.1:$port/healthz" > /dev/null 2>&1; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then echo "make run exited early:"; cat "$work/run.log"; exit 1; fi
  sleep 1
done

check() {
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$1")
  if [ "$code" != "200" ]; then echo "GET $1 answered $code"; cat "$work/run.log"; exit 1; fi
  echo "GET $1 -> 200"
}
check /healthz
check /admin/login/
check /api/docs/
grep -q "demo / shopops-demo" "$work/run.log" || { echo "make run did not print the demo login"; exit 1; }
echo "make run smoke: ok"
