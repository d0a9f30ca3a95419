#!/usr/bin/env bash
# bench/compare-cosign.sh: time one `k8sverify verify` of a whole release
# against the documented loop of one cosign process per artifact
# (kubernetes.io, "Verify Signed Kubernetes Artifacts": curl the file, its
# .sig and .cert, then `cosign verify-blob`; `cosign verify` per image tag),
# on the same test world, in the same run, at the same latency.
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
cleanup() {
	[ -n "$world" ] && kill "$world" 2>/dev/null && wait "$world" 2>/dev/null
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

echo "k8sverify verify $version at $latency per request..."
start=$(now)
bin/k8sverify verify "$version" --no-progress -o json="$work/report.json" >/dev/null || true
ours=$(awk -v a="$(now)" -v b="$start" 'BEGIN { print a - b }')
summary=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; print(s["total"], "artifacts,", s["verified"], "verified")' "$work/report.json")

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
printf '%-34s %8.2f s  (%d failures)\n' "cosign, one process per artifact" "$theirs" "$failures"
printf '%-34s %8.1fx\n' "ratio" "$(awk -v a="$theirs" -v b="$ours" 'BEGIN { print a / b }')"
