#!/usr/bin/env bash
# mod_pyrite's own benchmark: throughput, tail latency and httpd CPU per
# request of mod_pyrite configurations, side by side, on this machine.
#
# Also prints each child's resident memory after the load (rss_mib) and the
# thread switches httpd's children made per request (cs_per_req: a worker
# that parks, a listener that wakes; each costs more than most handlers).
#
# Every variant runs in its own httpd (event MPM: 2 children x 25 threads) on
# loopback; wrk loads it; rounds are interleaved (A B C A B C ...) and medians
# printed, because absolute figures drift on a shared machine.
#
# Usage: benches/bench.sh [-r ROUNDS] [-d SECONDS] [-c CONNECTIONS] [-a APP] VARIANT ...
#   VARIANT  static | c_handler | handler | wsgi | mod_wsgi | mod_python |
#            wsgi_daemon | mod_wsgi_daemon (daemon mode: one group of 2 processes
#            x 15 threads, WSGIRestrictEmbedded On, the same for both modules)
#            handler and wsgi take mod_pyrite settings after a colon, e.g.
#            wsgi:gate=1  wsgi:gate=0  wsgi:gate=4,switch=0.05
#            so=PATH loads another build of mod_pyrite (to compare two commits
#            in interleaved rounds), e.g. handler:so=/tmp/base/mod_pyrite.so
#            sched=batch|normal sets PyriteChildScheduling (httpd's children's
#            policy; batch is the default with daemon groups)
#            batch=1 (any variant, mod_wsgi's too) starts the whole httpd under
#            SCHED_BATCH (chrt -b 0), as systemd's CPUSchedulingPolicy=batch would
#            sites=N adds N-1 more sites, each in its own interpreter (the load
#            still goes to the first, which then runs in a sub-interpreter)
#   APP      hello (12 bytes, the default), cpu2ms (2 ms of Python CPU work per
#            request), io10ms (waits 10 ms with the GIL released, like a database call)
#            or flask (a small Flask view: routing, a query argument, a text response;
#            WSGI variants only, needs Debian's python3-flask)
# Needs PYRITE_SO (defaults to target/release/libmod_pyrite.so); installs wrk,
# curl and the reference modules from Debian's packages when missing (root).
set -euo pipefail
ROUNDS=3; DUR=8; CONN=32; APP=hello; VARIANTS=()
while [ $# -gt 0 ]; do
  case "$1" in
    -r) ROUNDS=$2; shift 2;; -d) DUR=$2; shift 2;; -c) CONN=$2; shift 2;; -a) APP=$2; shift 2;;
    -h|--help) sed -n '2,21p' "$0"; exit 0;;
    *) VARIANTS+=("$1"); shift;;
  esac
done
[ ${#VARIANTS[@]} -gt 0 ] || VARIANTS=(c_handler handler wsgi mod_wsgi)
HERE=$(cd "$(dirname "$0")/.." && pwd)
SO=${PYRITE_SO:-$HERE/target/release/libmod_pyrite.so}
[ -r "$SO" ] || { echo "build first (make): $SO is missing" >&2; exit 2; }
pkgs=()
for c in wrk curl apache2; do command -v $c >/dev/null || pkgs+=($c); done
if [ "$APP" = flask ]; then
  for v in "${VARIANTS[@]}"; do case ${v%%:*} in wsgi|wsgi_daemon|mod_wsgi|mod_wsgi_daemon) ;;
    *) echo "-a flask runs WSGI variants only (wsgi, wsgi_daemon, mod_wsgi, mod_wsgi_daemon), not $v" >&2; exit 2;; esac; done
  /usr/bin/python3 -c 'import flask' 2>/dev/null || pkgs+=(python3-flask)
fi
for v in "${VARIANTS[@]}"; do case $v in
  mod_wsgi|mod_wsgi_daemon) [ -e /usr/lib/apache2/modules/mod_wsgi.so ] || pkgs+=(libapache2-mod-wsgi-py3);;
  mod_python) [ -e /usr/lib/apache2/modules/mod_python.so ] || pkgs+=(libapache2-mod-python);;
  c_handler) command -v apxs >/dev/null || pkgs+=(apache2-dev);;
esac; done
[ ${#pkgs[@]} -eq 0 ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null; }

W=$(mktemp -d /tmp/pyrite-bench.XXXXXX); chmod 755 "$W"; mkdir -p "$W/app" "$W/htdocs" "$W/run"; chmod 777 "$W/run"
trap 'rm -rf "$W"' EXIT
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
printf 'Hello World!' > "$W/htdocs/hello.txt"
if [ "$APP" = cpu2ms ]; then
  WORK='    t = time.perf_counter() + 0.002
    n = 0
    while time.perf_counter() < t:
        n += 1'
elif [ "$APP" = io10ms ]; then
  WORK='    time.sleep(0.01)  # stands in for a database query: the GIL is released'
else
  WORK='    pass'
fi
cat > "$W/app/mp.py" <<X
import time
def handler(req):
$WORK
    req.content_type = 'text/plain'
    req.write('Hello World!')
    return 0
X
if [ "$APP" = flask ]; then
cat > "$W/app/hello.wsgi" <<'X'
# A small Flask view: URL routing, a query argument read, a text response.
from flask import Flask, request
app = Flask(__name__)

@app.route('/', strict_slashes=False)  # mounted at /hello.txt: PATH_INFO is empty
def hello():
    name = request.args.get('name', 'World')
    return f'Hello {name}!', 200, {'Content-Type': 'text/plain'}

application = app
X
else
cat > "$W/app/hello.wsgi" <<X
import time
def application(environ, start_response):
$WORK
    output = b'Hello World!'
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(output)))])
    return [output]
X
fi
chmod 644 "$W"/app/* "$W"/htdocs/*
if printf '%s\n' "${VARIANTS[@]}" | grep -qx c_handler; then
  cat > "$W/app/mod_chello.c" <<'X'
#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"
static int chello_handler(request_rec *r) {
    if (!r->handler || strcmp(r->handler, "chello")) return DECLINED;
    ap_set_content_type(r, "text/plain");
    ap_rwrite("Hello World!", 12, r);
    return OK;
}
static void chello_hooks(apr_pool_t *p) { ap_hook_handler(chello_handler, NULL, NULL, APR_HOOK_MIDDLE); }
module AP_MODULE_DECLARE_DATA chello_module = { STANDARD20_MODULE_STUFF, NULL, NULL, NULL, NULL, NULL, chello_hooks };
X
  (cd "$W/app" && apxs -c mod_chello.c >/dev/null 2>&1) || { echo "apxs could not build the C handler" >&2; exit 1; }
fi
M=/usr/lib/apache2/modules
base() {
  cat <<X
ServerRoot $W
PidFile $W/run/httpd.pid
DefaultRuntimeDir $W/run
ServerName 127.0.0.1
Listen 127.0.0.1:$PORT
LoadModule mpm_event_module $M/mod_mpm_event.so
LoadModule authz_core_module $M/mod_authz_core.so
LoadModule mime_module $M/mod_mime.so
TypesConfig /etc/mime.types
ErrorLog $W/run/error.log
LogLevel warn
DocumentRoot $W/htdocs
StartServers 2
ServerLimit 4
ThreadsPerChild 25
MaxRequestWorkers 100
KeepAlive On
MaxKeepAliveRequests 0
MaxConnectionsPerChild 0
X
  [ "$(id -u)" = 0 ] && printf 'User www-data\nGroup www-data\n'
  return 0
}
settings() {  # "gate=1,switch=0.05" -> directives
  local s=${1#*:}; [ "$s" = "$1" ] && return 0
  tr ',' '\n' <<<"$s" | while IFS== read -r k v; do case $k in
    gate) echo "PyriteMaxPythonThreads $v";;
    switch) echo "PyriteSwitchInterval $v";;
    sched) echo "PyriteChildScheduling $v";;
    so|sites|batch) ;;
    *) echo "unknown setting $k" >&2; exit 2;;
  esac; done
}
sites_of() {  # "wsgi:sites=2" -> 2, else 1
  local s=${1#*:}; [ "$s" = "$1" ] && { echo 1; return 0; }
  tr ',' '\n' <<<"$s" | awk -F= '$1=="sites"{p=$2} END{print (p=="")?1:p}'
}
extra_sites() {  # variant kind -> the N-1 other sites' configuration
  local n; n=$(sites_of "$1")
  for i in $(seq 2 "$n"); do case $2 in
    handler) printf '<Location /site%s.txt>\nSetHandler mod_python\nPythonHandler mp\nPythonInterpreter site%s\nPythonPath "sys.path+[%s]"\n</Location>\n' "$i" "$i" "'$W/app'";;
    wsgi) printf 'WSGIScriptAlias /site%s.txt %s/app/hello.wsgi\n' "$i" "$W";;
  esac; done
}
so_of() {  # "handler:so=/x.so" -> /x.so, else $SO
  local s=${1#*:}; [ "$s" = "$1" ] && { echo "$SO"; return 0; }
  tr ',' '\n' <<<"$s" | awk -F= -v d="$SO" '$1=="so"{p=$2} END{print (p=="")?d:p}'
}
variant() {
  case "${1%%:*}" in
  static) ;;
  c_handler) printf 'LoadModule chello_module %s/app/.libs/mod_chello.so\n<Location /hello.txt>\nSetHandler chello\n</Location>\n' "$W";;
  handler) echo "LoadModule pyrite_module $(so_of "$1")"; settings "$1"
    printf '<Location /hello.txt>\nSetHandler mod_python\nPythonHandler mp\nPythonPath "sys.path+[%s]"\n</Location>\nPythonImport mp main\n' "'$W/app'"
    extra_sites "$1" handler;;
  wsgi) echo "LoadModule pyrite_module $(so_of "$1")"; settings "$1"
    printf 'WSGIScriptAlias /hello.txt %s/app/hello.wsgi\n' "$W"
    extra_sites "$1" wsgi;;
  mod_wsgi) printf 'LoadModule wsgi_module %s/mod_wsgi.so\nWSGIScriptAlias /hello.txt %s/app/hello.wsgi application-group=%%{GLOBAL} process-group=%%{GLOBAL}\n' $M "$W";;
  wsgi_daemon) echo "LoadModule pyrite_module $(so_of "$1")"; settings "$1"
    printf 'WSGIRestrictEmbedded On\nWSGIDaemonProcess bench processes=2 threads=15\nWSGIScriptAlias /hello.txt %s/app/hello.wsgi process-group=bench application-group=%%{GLOBAL}\n' "$W";;
  mod_wsgi_daemon) printf 'LoadModule wsgi_module %s/mod_wsgi.so\nWSGIRestrictEmbedded On\nWSGIDaemonProcess bench processes=2 threads=15\nWSGIScriptAlias /hello.txt %s/app/hello.wsgi process-group=bench application-group=%%{GLOBAL}\n' $M "$W";;
  mod_python) printf 'LoadModule python_module %s/mod_python.so\n<Location /hello.txt>\nSetHandler mod_python\nPythonHandler mp\nPythonPath "sys.path+[%s]"\n</Location>\n' $M "'$W/app'";;
  *) echo "unknown variant $1" >&2; exit 2;;
  esac
}
med() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}'; }
url=http://127.0.0.1:$PORT/hello.txt
# CPU ticks (1/100 s, user and system) of httpd's processes.
ticks() { for p in $(pgrep -P "$1") "$1"; do awk '{print $14+$15}' /proc/$p/stat 2>/dev/null; done | awk '{s+=$1} END{print s+0}'; }
# Context switches (voluntary and not) of every thread of httpd's children.
switches() { for p in $(pgrep -P "$1"); do cat /proc/$p/task/*/status 2>/dev/null; done | awk '/voluntary_ctxt_switches/{s+=$2} END{print s+0}'; }
one() {  # variant -> "rps p50 p99 cpu_us_per_request errors rss_mib_per_child switches_per_request"
  local v=$1 conf=$W/run/conf pid
  { base; variant "$v"; } > "$conf"
  local launch=()
  [[ $v == *:*batch=1* ]] && launch=(chrt -b 0)
  "${launch[@]}" apache2 -f "$conf" -k start
  for _ in $(seq 100); do curl -fs -o /dev/null "$url" && break; sleep 0.1; done
  [ "$(curl -s "$url")" = "Hello World!" ] || { echo "$v: wrong answer" >&2; tail -5 "$W/run/error.log" >&2; }
  wrk -t2 -c"$CONN" -d2s "$url" >/dev/null 2>&1 || true
  pid=$(cat "$W/run/httpd.pid")
  local before after out
  before=$(ticks "$pid")
  local sw0 sw1; sw0=$(switches "$pid")
  out=$(wrk -t2 -c"$CONN" -d"${DUR}s" --latency "$url" 2>&1)
  after=$(ticks "$pid")
  sw1=$(switches "$pid")
  # Resident memory of each child after the load (MiB), averaged over the children.
  local rss
  rss=$(for p in $(pgrep -P "$pid"); do awk '/^VmRSS/{print $2}' /proc/$p/status 2>/dev/null; done | awk '{s+=$1; n++} END{if (n) printf "%.1f", s/n/1024; else print "nan"}')
  apache2 -f "$conf" -k stop
  for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  while ss -ltn 2>/dev/null | grep -q "127.0.0.1:$PORT "; do sleep 0.2; done
  local rps p50 p99 n cpu errs
  rps=$(awk '/Requests\/sec/{print $2}' <<<"$out")
  p50=$(awk '/ 50%/{print $2}' <<<"$out" | ms)
  p99=$(awk '/ 99%/{print $2}' <<<"$out" | ms)
  n=$(awk '/requests in/{print $1}' <<<"$out")
  # CPU ticks (1/100 s) of httpd's processes during the run, per request.
  cpu=$(awk -v a="$after" -v b="$before" -v n="$n" 'BEGIN{ if (n>0) printf "%.1f", (a-b)*10000/n; else print "nan" }')
  errs=$(awk '/Non-2xx|Socket errors/{c+=1} END{print c+0}' <<<"$out")
  { grep -E 'Non-2xx|Socket errors' <<<"$out" || true; } | sed "s|^ *|$v: |" >&2
  local cs; cs=$(awk -v a="$sw1" -v b="$sw0" -v n="$n" 'BEGIN{ if (n>0) printf "%.2f", (a-b)/n; else print "nan" }')
  echo "$rps ${p50:-nan} ${p99:-nan} $cpu $errs $rss $cs"
}
declare -A R P5 P9 C E M S
for r in $(seq "$ROUNDS"); do
  for v in "${VARIANTS[@]}"; do
    read -r rps p50 p99 cpu errs rss cs < <(one "$v")
    R[$v]+="$rps "; P5[$v]+="$p50 "; P9[$v]+="$p99 "; C[$v]+="$cpu "; M[$v]+="$rss "; S[$v]+="$cs "; E[$v]=$(( ${E[$v]:-0} + errs ))
    echo "round $r $v rps=$rps p50_ms=$p50 p99_ms=$p99 httpd_cpu_us_per_req=$cpu rss_mib_per_child=$rss switches_per_req=$cs" >&2
  done
done
first=${VARIANTS[0]}; ref=$(med <<<"${R[$first]}")
echo "app=$APP connections=$CONN rounds=$ROUNDS duration=${DUR}s; x_first = throughput relative to $first"
printf '%-26s %10s %8s %8s %8s %12s %10s %10s %s\n' variant rps_median p50_ms p99_ms x_first cpu_us_per_req rss_mib cs_per_req runs_with_errors
for v in "${VARIANTS[@]}"; do
  m=$(med <<<"${R[$v]}")
  printf '%-26s %10.0f %8.2f %8.2f %8.2f %12s %10s %10s %s\n' "$v" "$m" "$(med <<<"${P5[$v]}")" "$(med <<<"${P9[$v]}")" \
    "$(awk -v a="$m" -v b="$ref" 'BEGIN{printf "%.2f", a/b}')" "$(med <<<"${C[$v]}")" "$(med <<<"${M[$v]}")" "$(med <<<"${S[$v]}")" "${E[$v]}"
done
