#!/usr/bin/env bash
# make e2e: the built binary, run the way users run it, against test worlds
# on loopback — one whose images live in a real registry process
# (distribution's registry, installed by make tools) — and against the real
# cosign CLI. Prints "N passed, N failed" and exits non-zero on a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT
passed=0
failed=0

k8sverify="$root/bin/k8sverify"
testworld="$root/bin/testworld"
registry="$root/bin/registry"
cosign="$root/bin/cosign"
for b in "$k8sverify" "$testworld" "$registry" "$cosign"; do
	[ -x "$b" ] || { echo "e2e: $b is missing (make build tools)" >&2; exit 2; }
done

# check NAME WANT-EXIT COMMAND...: run COMMAND, compare its exit code.
check() {
	local name=$1 want=$2
	shift 2
	"$@" >"$work/out" 2>"$work/err"
	local got=$?
	if [ "$got" = "$want" ]; then
		passed=$((passed + 1))
		echo "ok    $name (exit $got)"
	else
		failed=$((failed + 1))
		echo "FAIL  $name: exit $got, want $want"
		sed 's/^/      /' "$work/out" "$work/err" | tail -20
	fi
}

# expect NAME PATTERN: the last command's stdout contains PATTERN.
expect() {
	if grep -q -- "$2" "$work/out"; then
		passed=$((passed + 1))
		echo "ok    $1"
	else
		failed=$((failed + 1))
		echo "FAIL  $1: output lacks '$2'"
		sed 's/^/      /' "$work/out" | tail -20
	fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# start_world DIR ARGS...: start a test world and wait until it is ready.
start_world() {
	local dir=$1
	shift
	mkdir -p "$dir"
	"$testworld" -dir "$dir" "$@" >"$dir/log" 2>&1 &
	pids+=($!)
	for _ in $(seq 1 100); do
		[ -s "$dir/env" ] && return 0
		sleep 0.1
	done
	echo "e2e: test world in $dir did not start" >&2
	cat "$dir/log" >&2
	exit 1
}

# in_world DIR COMMAND...: run COMMAND with the world's K8SVERIFY_* variables.
in_world() {
	local dir=$1
	shift
	(set -a && . "$dir/env" && set +a && exec "$@")
}

# Everything is served over HTTPS, as in production: the world's CA signs
# the certificates of the world's servers and of the registry process;
# clients trust it through SSL_CERT_FILE (the world's env sets it). The
# plain-http exception for loopback hosts is not used.
"$testworld" -tls "$work/tls" -tls-only

# A real registry process: distribution's registry, serving HTTPS.
port=$(free_port)
cat >"$work/registry.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/registry-data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
  tls:
    certificate: $work/tls/server.pem
    key: $work/tls/server-key.pem
EOF
"$registry" serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
	curl -sf --cacert "$work/tls/ca.pem" "https://127.0.0.1:$port/v2/" >/dev/null && break
	sleep 0.1
done

echo "== v1.24.17 over HTTPS (HTTP/2), images in distribution's registry at 127.0.0.1:$port"
w=$work/world
start_world "$w" -registry "127.0.0.1:$port" -tls "$work/tls"
check "the world serves HTTPS: an untrusted CA is refused" 3 sh -c 'set -a; . '"$w"'/env; set +a; unset SSL_CERT_FILE; exec '"$k8sverify"' verify v1.24.17 --kind binary --platform linux/amd64 --no-progress'
expect "the certificate is named" "certificate"
check "verify the whole release" 0 in_world "$w" "$k8sverify" verify v1.24.17 --no-progress
expect "every artifact verified (the 20 never-signed .docker_tag files left out)" "160 artifacts: 160 verified"
check "verify images, mirror list" 0 in_world "$w" "$k8sverify" verify v1.24.17 --kind image -o mirror-list
if [ "$(grep -c '@sha256:' "$work/out")" = 30 ]; then passed=$((passed + 1)); echo "ok    30 digest-pinned references"; else failed=$((failed + 1)); echo "FAIL  mirror list: $(wc -l <"$work/out") lines"; fi
check "verify-image, an index and its platforms" 0 in_world "$w" "$k8sverify" verify-image kube-apiserver:v1.24.17
expect "index and 5 platforms" "6 artifacts: 6 verified"
check "verify with downloads" 0 in_world "$w" "$k8sverify" verify v1.24.17 --kind binary --platform linux/amd64 --download --out "$work/files" --no-progress
in_world "$w" sh -c 'curl -sfL --cacert "$SSL_CERT_FILE" "$K8SVERIFY_DOWNLOAD_URL/release/v1.24.17/bin/linux/arm64/kubectl" -o '"$work/kubectl"
check "verify-file with --version" 0 in_world "$w" "$k8sverify" verify-file "$work/kubectl" --version v1.24.17
expect "names the artifact" "kubectl v1.24.17 linux/arm64"
check "verify-file from the transparency log" 0 in_world "$w" "$k8sverify" verify-file "$work/kubectl"
check "the real cosign accepts an image of the world" 0 in_world "$w" sh -c \
	'HOME='"$work"' TUF_ROOT='"$work"'/tuf '"$cosign"' verify "$K8SVERIFY_REGISTRY/kube-proxy-arm64:v1.24.17" --certificate-identity krel-trust@k8s-releng-prod.iam.gserviceaccount.com --certificate-oidc-issuer https://accounts.google.com --trusted-root "$K8SVERIFY_TRUSTED_ROOT" --rekor-url "$K8SVERIFY_REKOR_URL"'

echo "== air-gapped: fetch, then verify offline"
check "fetch an evidence pack" 0 in_world "$w" "$k8sverify" fetch v1.24.17 --out "$work/pack" --with-files --kind binary,tarball --platform linux/amd64
# The air-gapped site has the pack, the TUF root it trusts and, for a test
# world (its files are random), the world's catalog.
cp "$w/tuf-root.json" "$work/tuf-root.json"
cp "$w/catalog.json" "$work/catalog.json"
tuf_url=$(in_world "$w" sh -c 'echo $K8SVERIFY_TUF_URL')
offline=("$k8sverify" verify v1.24.17 --offline --evidence "$work/pack" --kind binary,tarball --platform linux/amd64 --tuf-url "$tuf_url" --tuf-root "$work/tuf-root.json" --catalog "$work/catalog.json" --no-progress)
if unshare -n true 2>/dev/null; then
	check "verify offline in a network namespace (unshare -n)" 0 env -i PATH="$PATH" unshare -n "${offline[@]}"
else
	check "verify offline (unshare -n not permitted here)" 0 env -i PATH="$PATH" "${offline[@]}"
fi
sed -i 's/"digest": "sha256:\(.\)/"digest": "sha256:0/' "$work/pack/manifest.json"
check "a digest edited in the pack fails" 1 env -i PATH="$PATH" "${offline[@]}"
check "an empty directory is no pack (unreadable local input)" 2 env -i PATH="$PATH" "$k8sverify" verify v1.24.17 --offline --evidence "$work" --tuf-url "$tuf_url" --tuf-root "$work/tuf-root.json"

echo "== forgeries"
f=$work/forged
start_world "$f" -small -fault forged-set=bin/linux/amd64/kubectl -fault foreign-identity=kube-proxy-arm64 -fault http-500=bin/linux/arm64/kubectl-convert
check "forged SET and foreign identity fail" 1 in_world "$f" "$k8sverify" verify v1.24.17 --kind binary,image --platform linux/amd64 --platform linux/arm64 --no-progress
expect "the forged SET is named" "kubectl .*linux/amd64 .*failed .*transparency-log"
expect "the foreign identity is named" "attacker@evil-project.iam.gserviceaccount.com"
expect "a 500 is an error, not a verdict" "kubectl-convert .*linux/arm64 .*error"

echo "== history"
h=$work/v1240
start_world "$h" -version v1.24.0 -small
check "v1.24.0 binaries are unsigned" 3 in_world "$h" "$k8sverify" verify v1.24.0 --kind binary --platform linux/amd64
expect "not signed in this release" "not signed in this release"
h8=$work/v1248
start_world "$h8" -version v1.24.8 -small -kind image
check "v1.24.8 images fail: the promoter's identity" 1 in_world "$h8" "$k8sverify" verify v1.24.8 --kind image --platform linux/amd64
expect "the incident is named" "known incident: v1.24.8-"

echo "== usage"
check "a malformed version is a usage error" 2 "$k8sverify" verify banana
check "plain http to a remote host is refused" 2 "$k8sverify" verify v1.24.17 --rekor-url http://rekor.example.com

echo
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
