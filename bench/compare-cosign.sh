#!/usr/bin/env bash
# bench/compare-cosign.sh: time one `k8sverify verify` of a whole release
# against the documented loop of one cosign process per artifact
# (kubernetes.io, "Verify Signed Kubernetes Artifacts": curl the file, its
# .sig and .cert, then `cosign verify-blob`; `cosign verify` per image tag),
# on the same test world, in the same run, at the same latency. It also
# reports what the wall time rests on: the requests the run sent (as the
# world's servers counted them), its dependent round trips (the longest
# chain of requests each sent after the previous one was answered, from
# the --debug request log: the chain the slowest artifact waited on), and
# the TLS handshakes of the same run over HTTPS (a second world, -tls).
#
#   bench/compare-cosign.sh [LATENCY] [VERSION]      (defaults: 50ms v1.24.17)
#
# On a fresh machine it builds what it needs from the Go module proxy: the
# CLI, the test world and cosign v2.6.5 (make build tools).
set -euo pipefail
cd "$(dirname "$0")/.."
latency=${1:-50ms}
version=${2:-v1.24.17}
make -s build tools >/dev/null
go build -o bin/testworld ./internal/testworld/cmd/testworld

work=$(mktemp -d)
world=""
tlsworld=""
cleanup() {
	[ -n "$world" ] && kill "$world" 2>/dev/null && wait "$world" 2>/dev/null
	[ -n "$tlsworld" ] && kill "$tlsworld" 2>/dev/null && wait "$tlsworld" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

bin/testworld -dir "$work/world" -version "$version" -latency "$latency" >"$work/world.log" 2>&1 &
world=$!
for _ in $(seq 1 300); do [ -s "$work/world/env" ] && break; sleep 0.1; done
[ -s "$work/world/env" ] || { cat "$work/world.log" >&2; exit 1; }
set -a
# shellcheck disable=SC1091
. "$work/world/env"
set +a

now() { date +%s.%N; }

# counts DIR PID: the world PID writes what its servers counted since the
# last call to DIR/requests.json, and counts anew.
counts() {
	rm -f "$1/requests.json"
	kill -USR1 "$2"
	for _ in $(seq 1 100); do [ -s "$1/requests.json" ] && return; sleep 0.05; done
	echo "no request counts from the world" >&2
	exit 1
}

counts "$work/world" "$world"
echo "k8sverify verify $version at $latency per request..."
start=$(now)
bin/k8sverify verify "$version" --no-progress -o json="$work/report.json" >/dev/null || true
ours=$(awk -v a="$(now)" -v b="$start" 'BEGIN { print a - b }')
summary=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; print(s["total"], "artifacts,", s["verified"], "verified")' "$work/report.json")
counts "$work/world" "$world"
requests=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["requests"]; print(sum(n for c in r.values() for n in c.values()))' "$work/world/requests.json")

# The same run with its request log, each request labelled with the
# artifact it was sent for: the dependent round trips of the slowest
# artifact (the one whose requests span the longest time) are the longest
# chain of its requests each sent after the previous one was answered,
# plus the listing every artifact waits for (the SBOM). A request that
# failed without an answer (an https ping of a plain-http registry) or
# was answered in less than half the latency (an answer the world does not
# delay) is no round trip; the registry's and the download
# site's redirect answers are counted apart (hops). Requests sent for
# several artifacts (a batched log lookup, the registry's ping) bear the
# label of the one that sent them.
# A request that starts as another one ends by chance looks dependent on
# it: of three runs, the one with the fewest is reported.
for i in 1 2 3; do
	bin/k8sverify verify "$version" --no-progress --debug -o json="$work/report-debug.json" >/dev/null 2>"$work/debug$i.log" || true
done
chain=$(python3 - "$latency" "$work"/debug[123].log <<'PY'
import collections, datetime, re, sys
lat = sys.argv[1]
lat = float(lat[:-2]) if lat.endswith("ms") else float(lat[:-1]) * 1000
def parse(path):
    by = collections.defaultdict(list)
    listing = 0
    for line in open(path):
        if "msg=request" not in line:
            continue
        end = datetime.datetime.fromisoformat(re.search(r"time=(\S+)", line).group(1).replace("Z", "+00:00")).timestamp() * 1000
        e = re.search(r"elapsed=(\S+)", line).group(1)
        el = float(e[:-2]) if e.endswith("ms") and not e.endswith("µs") else (float(e[:-1]) * 1000 if re.fullmatch(r"[0-9.]+s", e) else 0)
        st = re.search(r"status=(\d+)", line)
        label = re.search(r'for=("[^"]*"|\S+)', line)
        if "/sbom/" in line and not label:
            listing = 1
        if label:
            by[label.group(1).strip('"')].append((end - el, end, bool(st) and el >= lat / 2, bool(st) and st.group(1) in ("301", "302", "303", "307", "308")))
    return by, listing
def longest(reqs, weight):
    reqs = sorted(reqs)
    chains = []  # the longest chain ending at each request
    for s, e, rt, redirect in reqs:
        prev = max((c for (s2, e2, _, _), c in zip(reqs, chains) if e2 <= s + 3), default=0)
        chains.append(prev + weight(rt, redirect))
    return max(chains, default=0)
runs = []
for path in sys.argv[2:]:
    by, listing = parse(path)
    slowest = max(by, key=lambda k: max(e for _, e, _, _ in by[k]) - min(s for s, _, _, _ in by[k]))
    runs.append((listing + longest(by[slowest], lambda rt, redirect: rt and not redirect), listing + longest(by[slowest], lambda rt, redirect: rt), slowest))
print(*min(runs))
PY
)
read -r trips hops slowest <<<"$chain"

# The same run over HTTPS (HTTP/2, as the real services): its TLS
# handshakes per host.
tlsworld=""
bin/testworld -dir "$work/tlsworld" -tls "$work/tls" -version "$version" -latency "$latency" >"$work/tlsworld.log" 2>&1 &
tlsworld=$!
for _ in $(seq 1 300); do [ -s "$work/tlsworld/env" ] && break; sleep 0.1; done
[ -s "$work/tlsworld/env" ] || { cat "$work/tlsworld.log" >&2; exit 1; }
counts "$work/tlsworld" "$tlsworld"
(
	set -a
	# shellcheck disable=SC1091
	. "$work/tlsworld/env"
	set +a
	SSL_CERT_FILE="$work/tls/ca.pem" bin/k8sverify verify "$version" --no-progress -o json="$work/report-tls.json" >/dev/null || true
)
counts "$work/tlsworld" "$tlsworld"
handshakes=$(python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))
h = {s: n for s, n in c["handshakes"].items() if n}
print(sum(h.values()), "for", len(h), "hosts, at most", max(h.values(), default=0), "per host")' "$work/tlsworld/requests.json")
kill "$tlsworld" 2>/dev/null && wait "$tlsworld" 2>/dev/null
tlsworld=""

# The documented loop, one cosign process per artifact, over the same
# artifacts (the report lists them).
python3 - "$work/report.json" >"$work/artifacts" <<'PY'
import json, sys
for a in json.load(open(sys.argv[1]))["artifacts"]:
    print(a["kind"], a["location"])
PY
export HOME="$work/home" TUF_ROOT="$work/tuf" SIGSTORE_NO_CACHE=true
export SIGSTORE_ROOT_FILE="$work/world/fulcio-chain.pem" SIGSTORE_REKOR_PUBLIC_KEY="$work/world/rekor.pub" SIGSTORE_CT_LOG_PUBLIC_KEY_FILE="$work/world/ctlog.pub"
mkdir -p "$HOME" "$work/files"
echo "the documented cosign loop over the same $(wc -l <"$work/artifacts") artifacts..."
failures=0
start=$(now)
while read -r kind location; do
	if [ "$kind" = image ]; then
		bin/cosign verify "$location" --certificate-identity krel-trust@k8s-releng-prod.iam.gserviceaccount.com \
			--certificate-oidc-issuer https://accounts.google.com --trusted-root "$K8SVERIFY_TRUSTED_ROOT" \
			--rekor-url "$K8SVERIFY_REKOR_URL" --allow-http-registry >/dev/null 2>&1 || failures=$((failures + 1))
		continue
	fi
	f="$work/files/file"
	for ext in "" .sig .cert; do
		curl -sSfL --retry 3 --retry-delay 3 "$location$ext" -o "$f$ext"
	done
	bin/cosign verify-blob "$f" --signature "$f.sig" --certificate "$f.cert" \
		--certificate-identity krel-staging@k8s-releng-prod.iam.gserviceaccount.com \
		--certificate-oidc-issuer https://accounts.google.com --rekor-url "$K8SVERIFY_REKOR_URL" >/dev/null 2>&1 || failures=$((failures + 1))
done <"$work/artifacts"
theirs=$(awk -v a="$(now)" -v b="$start" 'BEGIN { print a - b }')

printf '\n%-34s %8.2f s  (%s)\n' "k8sverify verify $version" "$ours" "$summary"
printf '  %-32s %8d\n' "requests" "$requests"
printf '  %-32s %8d  (%d with the redirect hops; the slowest artifact, %s)\n' "dependent round trips" "$trips" "$hops" "$slowest"
printf '  %-32s %8s\n' "TLS handshakes (over HTTPS)" "$handshakes"
printf '%-34s %8.2f s  (%d failures)\n' "cosign, one process per artifact" "$theirs" "$failures"
printf '%-34s %8.1fx\n' "ratio" "$(awk -v a="$theirs" -v b="$ours" 'BEGIN { print a / b }')"
