#!/bin/sh
# size.sh BINARY -- footprint: stripped binary size, idle RSS of a master,
# time from start to the first answered GET_HEALTH.
set -e
bin=${1:-./mesos_api}
tmp=$(mktemp -d)
trap 'kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
strip -o "$tmp/stripped" "$bin"
echo "binary:          $(stat -c %s "$bin") bytes ($(stat -c %s "$tmp/stripped") stripped)"
start=$(date +%s%N)
"$bin" master --ip=127.0.0.1 --port=0 --work_dir="$tmp" 2>"$tmp/log" &
pid=$!
port=""
for i in $(seq 1 200); do
    port=$(sed -n 's/.*started on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/log" | head -1)
    [ -n "$port" ] && break
    sleep 0.01
done
[ -n "$port" ] || { echo "master did not start"; cat "$tmp/log"; exit 1; }
/usr/bin/python3 - "$port" <<'PY'
import socket, sys
port = int(sys.argv[1])
body = b'{"type":"GET_HEALTH"}'
for _ in range(500):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        break
    except OSError:
        import time; time.sleep(0.005)
s.sendall(b"POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
assert b" 200 " in s.recv(4096)
PY
end=$(date +%s%N)
echo "start-up:        $(( (end - start) / 1000000 )) ms to the first answered GET_HEALTH"
sleep 0.2
echo "master idle RSS: $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"
