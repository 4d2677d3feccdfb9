#!/usr/bin/env bash
# Load benchmark: `avow guard` against plain nginx, both proxying to the same upstream, with wrk.
#
# Everything listens on 127.0.0.1. The script builds release binaries, then starts `avow serve`,
# obtains real tokens from it (crates/avow-testgen/examples/mint_tokens.rs) and stops it. It then
# starts an nginx upstream that returns 200 and three proxies in front of it: nginx as a plain
# reverse proxy, `avow guard` with its default token cache, and `avow guard` with the cache off.
# wrk measures each target for a fixed time. /proc gives the CPU time that the target (for nginx, master and
# workers), the upstream, wrk and the whole machine used during each run, so the table shows
# the target's CPU time per request and how much CPU other processes took from the run. Every
# process the script started is stopped on exit.
#
# Needs: wrk, nginx (with the proxy module, as Debian's packages have), curl, a Rust toolchain.
# docs/benchmarks.md records results and how to read them.
#
# Settings (environment variables):
#   DURATION      wrk run time per target, default 10s (plus a 2 s warm-up run)
#   CONNECTIONS   wrk connections, default 64
#   THREADS       wrk threads, default 2
#   TOKENS        distinct tokens to obtain, default 20000
#   NGINX_WORKERS nginx proxy worker processes, default auto (one per core)
#   PORT_BASE     first of five consecutive ports on 127.0.0.1, default 18080
#   WORK_DIR      where configurations, logs, tokens and raw wrk output go,
#                 default target/bench-load (emptied at start)
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
TOKENS="${TOKENS:-20000}"
NGINX_WORKERS="${NGINX_WORKERS:-auto}"
PORT_BASE="${PORT_BASE:-18080}"
WORK_DIR="${WORK_DIR:-target/bench-load}"

AVOW_PORT=$((PORT_BASE))
UPSTREAM_PORT=$((PORT_BASE + 1))
NGINX_PORT=$((PORT_BASE + 2))
GUARD_PORT=$((PORT_BASE + 3))
GUARD_NO_CACHE_PORT=$((PORT_BASE + 4))
APP_ID=com.example.bench
ISSUER=avow-bench

fail() {
  echo "guard-vs-nginx: $*" >&2
  exit 1
}

for tool in wrk nginx curl cargo; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed"
done

# Processes started by this script, stopped on exit by their ids.
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Waits until `curl` gets any HTTP response from the URL, for at most 30 s.
wait_for_http() {
  local url="$1" pid="$2"
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || fail "the process for $url exited; see the logs in $WORK_DIR"
    curl -s -o /dev/null --max-time 1 "$url" && return 0
    sleep 0.1
  done
  fail "nothing answered on $url within 30 s"
}

# Fails unless a request gets the expected status. Extra arguments go to curl.
expect_status() {
  local expected="$1" url="$2"
  shift 2
  local status
  status="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" "$url")"
  [ "$status" = "$expected" ] || fail "$url returned $status, expected $expected"
}

for port in "$AVOW_PORT" "$UPSTREAM_PORT" "$NGINX_PORT" "$GUARD_PORT" "$GUARD_NO_CACHE_PORT"; do
  port_in_use "$port" && fail "port $port on 127.0.0.1 is in use: set PORT_BASE"
done

echo "== building release binaries"
cargo build --release --locked -p avow --bin avow
cargo build --release --locked -p avow-testgen --example mint_tokens
target_dir="${CARGO_TARGET_DIR:-target}"
avow="$target_dir/release/avow"
mint_tokens="$target_dir/release/examples/mint_tokens"

rm -rf "$WORK_DIR"
mkdir -p "$WORK_DIR"
WORK_DIR="$(cd "$WORK_DIR" && pwd)"

echo "== obtaining $TOKENS tokens from avow serve"
mkdir -p "$WORK_DIR/avow"
cat >"$WORK_DIR/avow/avow.toml" <<EOF
listen = "127.0.0.1:$AVOW_PORT"
data_dir = "$WORK_DIR/avow/data"
issuer = "$ISSUER"
EOF
AVOW_LOG=warn "$avow" serve --config "$WORK_DIR/avow/avow.toml" \
  >"$WORK_DIR/avow/stdout.log" 2>"$WORK_DIR/avow/stderr.log" &
avow_pid=$!
pids+=("$avow_pid")
wait_for_http "http://127.0.0.1:$AVOW_PORT/healthz" "$avow_pid"
admin_key="$(sed -n 's/^[[:space:]]*export AVOW_ADMIN_KEY=//p' "$WORK_DIR/avow/stdout.log" | head -n 1)"
[ -n "$admin_key" ] || fail "avow serve printed no admin key"
AVOW_SERVER="http://127.0.0.1:$AVOW_PORT" AVOW_ADMIN_KEY="$admin_key" "$avow" app add \
  --platform android --package-name "$APP_ID" \
  --certificate-digest "$("$mint_tokens" --print-certificate-digest)" >/dev/null
# The server's default policy (the monitor preset) with a token lifetime of 2 hours, long
# enough for the whole benchmark. With the default of 5 minutes, the first tokens could expire
# before the last run.
cat >"$WORK_DIR/avow/policy.toml" <<EOF
preset = "monitor"

[rules]
token_lifetime_secs = 7200
EOF
AVOW_SERVER="http://127.0.0.1:$AVOW_PORT" AVOW_ADMIN_KEY="$admin_key" "$avow" policy set \
  "$APP_ID" "$WORK_DIR/avow/policy.toml" >/dev/null
"$mint_tokens" --server "http://127.0.0.1:$AVOW_PORT" --app-id "$APP_ID" \
  --count "$TOKENS" --out "$WORK_DIR/tokens"
kill -TERM "$avow_pid"
wait "$avow_pid" || true
tokens_file="$WORK_DIR/tokens/tokens.txt"
one_token_file="$WORK_DIR/tokens/one-token.txt"
head -n 1 "$tokens_file" >"$one_token_file"
# The second half of the file: tokens the guard has not seen in the runs before it.
half_count=$((TOKENS / 2))
half_tokens_file="$WORK_DIR/tokens/half-tokens.txt"
tail -n "$half_count" "$tokens_file" >"$half_tokens_file"
token="$(cat "$one_token_file")"
distinct="$(sort -u "$tokens_file" | wc -l)"
[ "$distinct" -eq "$TOKENS" ] || fail "expected $TOKENS distinct tokens, got $distinct"

# Temporary-file paths inside the prefix for the optional modules this nginx was built with.
nginx_build="$(nginx -V 2>&1)"
module_temp_paths() {
  local module
  for module in fastcgi uwsgi scgi; do
    case "$nginx_build" in
      *"--without-http_${module}_module"*) ;;
      *) echo "    ${module}_temp_path $1/$module;" ;;
    esac
  done
}

# Starts one nginx in the foreground with its own prefix. $1 is the name, $2 the worker count,
# $3 the `http` block's contents.
start_nginx() {
  local name="$1" workers="$2" http="$3"
  local prefix="$WORK_DIR/$name"
  mkdir -p "$prefix"
  cat >"$prefix/nginx.conf" <<EOF
daemon off;
worker_processes $workers;
pid $prefix/nginx.pid;
error_log $prefix/error.log warn;
events {
    worker_connections 4096;
}
http {
    access_log off;
    client_body_temp_path $prefix/client_body;
    proxy_temp_path $prefix/proxy;
$(module_temp_paths "$prefix")
    keepalive_requests 1000000;
$http
}
EOF
  nginx -p "$prefix/" -e "$prefix/error.log" -c "$prefix/nginx.conf" &
  pids+=("$!")
  last_pid=$!
}

echo "== starting the upstream, nginx and avow guard"
start_nginx upstream 1 "    server {
        listen 127.0.0.1:$UPSTREAM_PORT;
        location / {
            return 200 \"upstream\\n\";
        }
    }"
wait_for_http "http://127.0.0.1:$UPSTREAM_PORT/" "$last_pid"
upstream_pid=$last_pid

start_nginx proxy "$NGINX_WORKERS" "    upstream bench_upstream {
        server 127.0.0.1:$UPSTREAM_PORT;
        keepalive 128;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / {
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_pass http://bench_upstream;
        }
    }"
wait_for_http "http://127.0.0.1:$NGINX_PORT/" "$last_pid"
nginx_pid=$last_pid

start_guard() {
  local port="$1" name="$2"
  shift 2
  "$avow" guard --listen "127.0.0.1:$port" --upstream "http://127.0.0.1:$UPSTREAM_PORT" \
    --issuer "$ISSUER" --audience "$APP_ID" --jwks-file "$WORK_DIR/tokens/jwks.json" "$@" \
    >"$WORK_DIR/$name.log" 2>&1 &
  pids+=("$!")
  last_pid=$!
  wait_for_http "http://127.0.0.1:$port/" "$last_pid"
}
start_guard "$GUARD_PORT" guard
guard_pid=$last_pid
start_guard "$GUARD_NO_CACHE_PORT" guard-no-cache --token-cache-size 0
guard_no_cache_pid=$last_pid

# Every target returns the expected status before anything is measured.
for port in "$UPSTREAM_PORT" "$NGINX_PORT" "$GUARD_PORT" "$GUARD_NO_CACHE_PORT"; do
  expect_status 200 "http://127.0.0.1:$port/" -H "Avow-Token: $token"
done
# The same token with the first character of its signature changed.
signature="${token##*.}"
if [ "${signature:0:1}" = A ]; then replacement=B; else replacement=A; fi
tampered="${token%.*}.$replacement${signature:1}"
for port in "$GUARD_PORT" "$GUARD_NO_CACHE_PORT"; do
  expect_status 401 "http://127.0.0.1:$port/"
  expect_status 401 "http://127.0.0.1:$port/" -H "Avow-Token: $tampered"
done

# CPU time in clock ticks used so far by a process and its children (nginx's workers).
cpu_ticks() {
  local pid total=0 ticks
  for pid in "$1" $(ps -o pid= --ppid "$1"); do
    ticks="$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)"
    total=$((total + ticks))
  done
  echo "$total"
}
clock_ticks_per_second="$(getconf CLK_TCK)"

# CPU time in clock ticks of this shell's finished children, wrk among them. `times` must run
# in this shell, not in a command substitution, whose own children start from zero.
children_ticks() {
  times >"$WORK_DIR/times.txt"
  awk -v hz="$clock_ticks_per_second" 'NR == 2 {
    total = 0
    for (i = 1; i <= 2; i++) { split($i, part, "m"); sub("s", "", part[2]); total += part[1] * 60 + part[2] }
    printf "%d\n", total * hz
  }' "$WORK_DIR/times.txt"
}

# Busy, stolen (taken by the hypervisor for other guests) and total CPU time of the whole
# machine in clock ticks, from /proc/stat.
machine_ticks() {
  awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat
}

# Runs wrk against one target and appends a result line. $1 is the label, $2 the port and $3
# the process whose CPU time is counted (for nginx, its master, whose workers count too). $4 is
# the token file: with one token it goes in a fixed header, with several rotate-tokens.lua
# sends them in turn. The upstream's and wrk's CPU time are counted too, so that what remains
# is the share of other processes on the machine.
results=()
measure() {
  local label="$1" port="$2" pid="$3" file="$4"
  local output
  output="$WORK_DIR/wrk-$(echo "$label" | tr -c 'a-z0-9' '-').txt"
  local args=(-t "$THREADS" -c "$CONNECTIONS" --latency)
  if [ "$(wc -l <"$file")" -eq 1 ]; then
    args+=(-H "Avow-Token: $(cat "$file")")
  else
    args+=(-s bench/load/rotate-tokens.lua)
  fi
  AVOW_BENCH_TOKENS="$file" wrk "${args[@]}" -d 2s "http://127.0.0.1:$port/" >/dev/null

  local target_before upstream_before children_before machine_before
  target_before="$(cpu_ticks "$pid")"
  upstream_before="$(cpu_ticks "$upstream_pid")"
  children_ticks >"$WORK_DIR/children.txt"
  children_before="$(cat "$WORK_DIR/children.txt")"
  machine_before="$(machine_ticks)"
  AVOW_BENCH_TOKENS="$file" wrk "${args[@]}" -d "$DURATION" "http://127.0.0.1:$port/" >"$output"
  local target_after upstream_after children_after machine_after
  machine_after="$(machine_ticks)"
  children_ticks >"$WORK_DIR/children.txt"
  children_after="$(cat "$WORK_DIR/children.txt")"
  target_after="$(cpu_ticks "$pid")"
  upstream_after="$(cpu_ticks "$upstream_pid")"

  local target=$((target_after - target_before))
  local upstream=$((upstream_after - upstream_before))
  local client=$((children_after - children_before))
  # The upstream-direct run measures the upstream itself: count it once.
  [ "$pid" = "$upstream_pid" ] && upstream=0
  local busy_before steal_before total_before busy_after steal_after total_after
  read -r busy_before steal_before total_before <<<"$machine_before"
  read -r busy_after steal_after total_after <<<"$machine_after"
  local busy=$((busy_after - busy_before))
  local steal=$((steal_after - steal_before))
  local total=$((total_after - total_before))
  local other_percent steal_percent
  other_percent="$(awk -v other=$((busy - target - upstream - client)) -v total="$total" \
    'BEGIN {printf "%.0f", (other < 0 ? 0 : other) * 100 / total}')"
  steal_percent="$(awk -v steal="$steal" -v total="$total" \
    'BEGIN {printf "%.0f", steal * 100 / total}')"

  local requests rps p50 p99 non2xx errors cpu_per_request
  requests="$(awk '/ requests in / {print $1}' "$output")"
  rps="$(awk '/^Requests\/sec:/ {print $2}' "$output")"
  p50="$(awk '$1 == "50%" {print $2}' "$output")"
  p99="$(awk '$1 == "99%" {print $2}' "$output")"
  non2xx="$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$output")"
  errors="$(awk '/Socket errors:/ {sub(/.*Socket errors: /, ""); print}' "$output")"
  cpu_per_request="$(awk -v ticks="$target" -v hz="$clock_ticks_per_second" \
    -v requests="$requests" 'BEGIN {printf "%.1f", ticks / hz * 1e6 / requests}')"
  results+=("$label|$rps|$p50|$p99|$cpu_per_request|${non2xx:-0}|${errors:-none}|$other_percent%|$steal_percent%")
  echo "$label: $rps requests/s, p50 $p50, p99 $p99, $cpu_per_request µs CPU per request," \
    "non-2xx ${non2xx:-0}; CPU ticks: target $target, upstream $upstream, wrk $client," \
    "machine busy $busy, stolen $steal, total $total"
}

echo "== measuring"
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' with uncommitted changes')"
echo "$(nproc) cores, load average $(cut -d ' ' -f 1-3 /proc/loadavg), $(nginx -v 2>&1), $(wrk -v 2>&1 | head -n 1)"
echo "wrk -t $THREADS -c $CONNECTIONS -d $DURATION after a 2 s warm-up; nginx proxy worker_processes $NGINX_WORKERS"
measure "upstream direct" "$UPSTREAM_PORT" "$upstream_pid" "$one_token_file"
measure "nginx proxy, one token" "$NGINX_PORT" "$nginx_pid" "$one_token_file"
measure "avow guard, one reused token" "$GUARD_PORT" "$guard_pid" "$one_token_file"
measure "nginx proxy, $TOKENS tokens (Lua)" "$NGINX_PORT" "$nginx_pid" "$tokens_file"
measure "avow guard, $half_count tokens (Lua)" "$GUARD_PORT" "$guard_pid" "$half_tokens_file"
measure "avow guard, $TOKENS tokens (Lua)" "$GUARD_PORT" "$guard_pid" "$tokens_file"
measure "avow guard, cache off, $TOKENS tokens (Lua)" "$GUARD_NO_CACHE_PORT" \
  "$guard_no_cache_pid" "$tokens_file"

echo
echo "| target | requests/s | p50 latency | p99 latency | target's CPU per request (µs) | non-2xx | socket errors | other processes' CPU | stolen CPU |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for line in "${results[@]}"; do
  IFS='|' read -r label rps p50 p99 cpu non2xx errors other steal <<<"$line"
  echo "| $label | $rps | $p50 | $p99 | $cpu | $non2xx | $errors | $other | $steal |"
done
echo
echo "other processes' CPU: the machine's busy time during the run, less the target's, the"
echo "upstream's and wrk's; stolen CPU: time the hypervisor gave to other guests; both as a"
echo "share of all cores"
echo
echo "raw wrk output and logs: $WORK_DIR"

# A target that returned anything but 2xx did not do the work being measured.
for line in "${results[@]}"; do
  IFS='|' read -r label _ _ _ _ non2xx _ _ _ <<<"$line"
  [ "$non2xx" = 0 ] || fail "$label: $non2xx responses were not 2xx, so its figures are invalid"
done
