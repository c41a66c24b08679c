#!/usr/bin/env bash
# Starts (or stops) a self-contained httpd serving the examples on loopback.
# Usage: demo.sh start|stop MODULE_SO DEMO_DIR PORT
set -euo pipefail
action=$1 so=$2 dir=$3 port=$4
here=$(cd "$(dirname "$0")/.." && pwd)
M=$(apxs -q LIBEXECDIR 2>/dev/null || echo /usr/lib/apache2/modules)
conf=$dir/httpd.conf

stop() {
  [ -f "$dir/run/httpd.pid" ] || return 0
  pid=$(cat "$dir/run/httpd.pid")
  apache2 -f "$conf" -k stop 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
}

case "$action" in
stop)
  stop; echo "demo stopped";;
start)
  stop
  rm -rf "$dir"; mkdir -p "$dir/run" "$dir/examples" "$dir/htdocs"
  cp "$so" "$dir/mod_pyrite.so"
  cp "$here"/examples/*.py "$dir/examples/"
  chmod -R a+rX "$dir"
  {
    echo "ServerRoot $dir"
    echo "PidFile $dir/run/httpd.pid"
    echo "DefaultRuntimeDir $dir/run"
    echo "ServerName 127.0.0.1"
    echo "Listen 127.0.0.1:$port"
    echo "LoadModule mpm_event_module $M/mod_mpm_event.so"
    echo "LoadModule authz_core_module $M/mod_authz_core.so"
    echo "LoadModule mime_module $M/mod_mime.so"
    echo "TypesConfig /etc/mime.types"
    echo "ErrorLog $dir/run/error.log"
    echo "LogLevel info"
    echo "DocumentRoot $dir/htdocs"
    [ "$(id -u)" = 0 ] && printf 'User www-data\nGroup www-data\n'
    echo "LoadModule pyrite_module $dir/mod_pyrite.so"
    sed "s|@EXAMPLES@|$dir/examples|g" "$here/apache-conf/examples/demo-site.conf"
  } > "$conf"
  apache2 -f "$conf" -k start
  for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
  echo
  curl -s "http://127.0.0.1:$port/?from=make-demo"
  echo
  curl -s "http://127.0.0.1:$port/wsgi/some/path"
  echo
  echo "mod_pyrite demo running: http://127.0.0.1:$port/ (mod_python handler), http://127.0.0.1:$port/wsgi (WSGI application)"
  echo "error log: $dir/run/error.log"
  echo "stop it with: make demo-stop";;
*) echo "usage: $0 start|stop MODULE_SO DEMO_DIR PORT" >&2; exit 2;;
esac
