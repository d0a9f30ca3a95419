#!/usr/bin/env bash
# make e2e: the built binary, run the way users run it, against test worlds
# on loopback — one whose images live in a real registry process
# (distribution's registry, installed by make tools) — and against the real
# cosign CLI; k8sverify's own container image, built by ko, pushed to that
# registry and run from there when a container runtime works here. Prints
# "N passed, N failed" and exits non-zero on a failure.
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
htpasswd="$root/bin/htpasswd"
ko="$root/bin/ko"
crane="$root/bin/crane"
staticbase="$root/bin/staticbase"
for b in "$k8sverify" "$testworld" "$registry" "$cosign" "$htpasswd" "$ko" "$crane" "$staticbase"; do
	[ -x "$b" ] || { echo "e2e: $b is missing (run make e2e: it builds what this needs)" >&2; exit 2; }
done
# The image is stamped as make build stamps bin/k8sverify: make e2e passes
# LDFLAGS.
[ -n "${LDFLAGS:-}" ] || { echo "e2e: LDFLAGS is not set (run make e2e)" >&2; exit 2; }

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

# expect_err NAME PATTERN: the last command's stderr contains PATTERN.
expect_err() {
	if grep -q -- "$2" "$work/err"; then
		passed=$((passed + 1))
		echo "ok    $1"
	else
		failed=$((failed + 1))
		echo "FAIL  $1: stderr lacks '$2'"
		sed 's/^/      /' "$work/err" | tail -20
	fi
}

# expect_status NAME URL CODE: a GET of the manifest URL answers CODE.
expect_status() {
	local got
	got=$(curl -s --cacert "$work/tls/ca.pem" -o /dev/null -w '%{http_code}' -H 'Accept: application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json' "$2")
	if [ "$got" = "$3" ]; then
		passed=$((passed + 1))
		echo "ok    $1 (HTTP $got)"
	else
		failed=$((failed + 1))
		echo "FAIL  $1: HTTP $got, want $3"
	fi
}

# readme_block NAME: the commands of the README's code block marked
# <!-- e2e: NAME ... -->, as written (indentation removed).
readme_block() {
	awk -v name="$1" '
		index($0, "<!-- e2e: " name " ") { found = 1; next }
		found && /^[[:space:]]*```/ { if (inblock) exit; inblock = 1; next }
		inblock { sub(/^[[:space:]]+/, ""); print }
	' "$root/README.md"
}

# registry_config FILE NAME PORT [EXTRA]: a configuration of distribution's
# registry on 127.0.0.1:PORT, storing below $work/NAME-data.
registry_config() {
	cat >"$1" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/$2-data
http:
  addr: 127.0.0.1:$3
${4:-}
EOF
}

# start_registry NAME PORT [EXTRA]: distribution's registry, until it answers.
start_registry() {
	registry_config "$work/$1.yml" "$1" "$2" "${3:-}"
	"$registry" serve "$work/$1.yml" >"$work/$1.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 1 100); do
		case $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$2/v2/") in 200 | 401) return 0 ;; esac
		sleep 0.1
	done
	echo "e2e: registry $1 did not start" >&2
	cat "$work/$1.log" >&2
	exit 1
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# start_world DIR ARGS...: start a test world and wait until it is ready.
start_world() {
	local dir=$1
	shift
	mkdir -p "$dir"
	"$testworld" -dir "$dir" "$@" >"$dir/log" 2>&1 &
	pids+=($!)
	# A loaded machine may take a while to sign and push a whole release.
	for _ in $(seq 1 1200); do
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

echo "== k8sverify's own image: built by ko as the release builds it, pushed to the registry process, run from there"
# The release's image (.goreleaser.yaml kos:) is built by ko on
# cgr.dev/chainguard/static. Here the base is a stand-in pushed to the
# registry process (bin/staticbase: the original's users, directories and
# CA bundle path, the world's CA as the bundle; no internet), and ko
# (bin/ko, the version goreleaser builds with) reads .ko.yaml: the release's
# platforms and build flags, make build's version stamps (LDFLAGS), file
# times from the commit.
repo=127.0.0.1:$port/k8sverify/k8sverify
epoch=$(git log -1 --format=%ct 2>/dev/null || echo 0)
ko_build() {
	SSL_CERT_FILE="$work/tls/ca.pem" KO_DOCKER_REPO="$1" KO_DEFAULTBASEIMAGE="127.0.0.1:$port/chainguard/static:latest" \
		KO_GO_PATH="${GO:-go}" LDFLAGS="$LDFLAGS" SOURCE_DATE_EPOCH="$epoch" KO_DATA_DATE_EPOCH="$epoch" \
		"$ko" build --bare --sbom=spdx --tags=e2e --image-refs "$2" ./cmd/k8sverify
}
reg() { SSL_CERT_FILE="$work/tls/ca.pem" "$@"; }
# built FILE REPO DIGEST: ko's --image-refs FILE names REPO@DIGEST (by tag
# or not; the platforms' images follow in no fixed order).
built() { grep -qxF -e "$2@$3" -e "$2:e2e@$3" "$1"; }
check "a stand-in for the base image (cgr.dev/chainguard/static) pushed to the registry" 0 reg "$staticbase" -ca "$work/tls/ca.pem" "127.0.0.1:$port/chainguard/static:latest"
check "ko builds k8sverify's image (linux/amd64, linux/arm64) and pushes it, with an SBOM" 0 ko_build "$repo" "$work/image-refs"
digest=$(reg "$crane" digest "$repo:e2e" 2>/dev/null)
image=$repo@$digest
check "the pushed image is pulled back by another client (crane)" 0 reg "$crane" manifest "$image"
expect "an index: linux/amd64" '"architecture":"amd64","os":"linux"'
expect "and linux/arm64" '"architecture":"arm64","os":"linux"'
if built "$work/image-refs" "$repo" "$digest"; then passed=$((passed + 1)); echo "ok    the registry serves the index ko built ($digest)"; else failed=$((failed + 1)); echo "FAIL  the registry serves $repo@$digest, ko built:" && sed 's/^/      /' "$work/image-refs"; fi
hostplat=linux/$("${GO:-go}" env GOARCH)
# crane config prints no final newline.
image_config() { reg "$crane" config --platform "$hostplat" "$image" && echo; }
check "its $hostplat configuration" 0 image_config
expect "entrypoint: the static binary" '"Entrypoint":\["/ko-app/k8sverify"\]'
expect "runs as nonroot (65532), the base's user" '"User":"65532"'
check "the real cosign finds its SBOM" 0 reg env HOME="$work" "$cosign" download sbom "$image"
expect "an SPDX document" '"spdxVersion"'
check "built again from the same commit" 0 ko_build "127.0.0.1:$port/k8sverify/again" "$work/image-refs-again"
if built "$work/image-refs-again" "127.0.0.1:$port/k8sverify/again" "$digest"; then passed=$((passed + 1)); echo "ok    reproducible: the same digest"; else failed=$((failed + 1)); echo "FAIL  not reproducible: the first build is $digest, the second:" && sed 's/^/      /' "$work/image-refs-again"; fi
mkdir -p "$work/image-fs"
reg "$crane" export --platform "$hostplat" "$image" - | tar -x -C "$work/image-fs" 2>/dev/null
want_version=$("$k8sverify" version)
check "the entrypoint, run from the pulled file system, is this build" 0 "$work/image-fs/ko-app/k8sverify" version
expect "prints what bin/k8sverify version prints" "$want_version"
# A container runtime: the first of docker, podman and nerdctl that answers
# `info` ($CONTAINER_RUNTIME names one, or none). Each trusts the registry
# its own way: dockerd treats 127.0.0.0/8 registries as insecure by
# default, podman reads the CA from --cert-dir, nerdctl is told.
runtime=
why=
for rt in ${CONTAINER_RUNTIME:-docker podman nerdctl}; do
	[ "$rt" = none ] && { why="CONTAINER_RUNTIME=none"; break; }
	command -v "$rt" >/dev/null || continue
	if "$rt" info >/dev/null 2>"$work/runtime.err"; then runtime=$rt; break; fi
	why="${why:+$why; }$rt is installed but '$rt info' fails: $(grep -m1 . "$work/runtime.err")"
done
if [ -z "$runtime" ]; then
	echo "      no container runtime here: the image was built, pushed, pulled back and its entrypoint run"
	echo "      from its file system, but not run in a container (${why:-none of docker, podman, nerdctl is installed})"
else
	mkdir -p "$work/certs"
	cp "$work/tls/ca.pem" "$work/certs/ca.crt"
	case $runtime in
	podman) pull=(podman pull --cert-dir "$work/certs") ;;
	nerdctl) pull=(nerdctl pull --insecure-registry) ;;
	*) pull=("$runtime" pull) ;;
	esac
	check "$runtime pulls the image from the registry process" 0 "${pull[@]}" "$image"
	check "$runtime runs it: k8sverify version" 0 "$runtime" run --rm --network host "$image" version
	expect "prints what bin/k8sverify version prints" "$want_version"
	# The world's variables, its files mounted read-only (the image runs as
	# 65532); its CA is the image's bundle.
	grep -v '^SSL_CERT_FILE=' "$w/env" | sed "s#$w#/world#g" >"$work/container.env"
	check "$runtime runs it: verify-image against the world" 0 "$runtime" run --rm --network host --env-file "$work/container.env" -v "$w:/world:ro" "$image" verify-image kube-apiserver:v1.24.17 --no-progress
	expect "index and 5 platforms, from the container" "6 artifacts: 6 verified"
	# The runtime's copy goes; the registry's goes with $work.
	"$runtime" rmi "$image" >/dev/null 2>&1
fi

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
start_world "$f" -small -fault forged-set=bin/linux/amd64/kubectl -fault foreign-identity=kube-proxy-arm64 -fault http-500=bin/linux/arm64/kubectl-convert -tls "$work/tls"
check "forged SET and foreign identity fail" 1 in_world "$f" "$k8sverify" verify v1.24.17 --kind binary,image --platform linux/amd64 --platform linux/arm64 --no-progress
expect "the forged SET is named" "kubectl .*linux/amd64 .*failed .*transparency-log"
expect "the foreign identity is named" "attacker@evil-project.iam.gserviceaccount.com"
expect "a 500 is an error, not a verdict" "kubectl-convert .*linux/arm64 .*error"

echo "== history"
h=$work/v1240
start_world "$h" -version v1.24.0 -small -tls "$work/tls"
check "v1.24.0 binaries are unsigned" 3 in_world "$h" "$k8sverify" verify v1.24.0 --kind binary --platform linux/amd64
expect "not signed in this release" "not signed in this release"
h8=$work/v1248
start_world "$h8" -version v1.24.8 -small -kind image -tls "$work/tls"
check "v1.24.8 images fail: the promoter's identity" 1 in_world "$h8" "$k8sverify" verify v1.24.8 --kind image --platform linux/amd64
expect "the incident is named" "known incident: v1.24.8-"

echo "== the 1.24 line: every era of the infrastructure gives the documented history"
# One world publishing every patch release of 1.24 (linux/amd64 and
# linux/s390x, every image), each signed at its date: two CT logs, Rekor
# shards, both certificate forms, carried staging signatures, payloads by
# promoter era, the redirecting registry front. The verdicts, counted per
# release, kind, status, failed check and incidents, must be exactly
# pkg/audit/testdata/line-1.24-history.tsv (TestLineHistory checks the same).
lw=$work/line
start_world "$lw" -version 1.24 -platform linux/amd64,linux/s390x -tls "$work/tls"
check "verify 1.24: v1.24.8's images fail (exit 1)" 1 in_world "$lw" "$k8sverify" verify 1.24 --platform linux/amd64 --platform linux/s390x -o json="$work/line.json" --no-progress
history() {
	jq -r '.artifacts[] | [.release, .kind, .status, (.failedCheck // "-"), ((.incidents // []) | join(","))] | @tsv' "$1" |
		awk '{n[$0]++} END {for (k in n) print n[k] "\t" k}' | LC_ALL=C sort
}
if diff <(LC_ALL=C sort "$root/pkg/audit/testdata/line-1.24-history.tsv") <(history "$work/line.json") >"$work/line.diff"; then
	passed=$((passed + 1))
	echo "ok    the line's history matrix is the committed one"
else
	failed=$((failed + 1))
	echo "FAIL  the line's history matrix differs from pkg/audit/testdata/line-1.24-history.tsv (< committed, > got):"
	sed 's/^/      /' "$work/line.diff" | head -40
fi

echo "== mirror: v1.24.17 into a registry with htpasswd authentication"
"$htpasswd" mirror s3cret >"$work/htpasswd"
aport=$(free_port)
start_registry registry-auth "$aport" "auth:
  htpasswd:
    realm: k8sverify-e2e
    path: $work/htpasswd"
mkdir -p "$work/docker" "$work/docker-none"
printf '{"auths":{"127.0.0.1:%s":{"auth":"%s"}}}\n' "$aport" "$(printf mirror:s3cret | base64)" >"$work/docker/config.json"
echo '{}' >"$work/docker-none/config.json"
check "mirror without credentials: each image an error" 3 in_world "$w" env DOCKER_CONFIG="$work/docker-none" "$k8sverify" mirror v1.24.17 --to "127.0.0.1:$aport/k8s" --no-progress
expect "with the registry's answer" "error .*not copied: .*401 Unauthorized"
readme_block ci-mirror | sed "s#mirror.example.com#127.0.0.1:$aport#g" >"$work/ci-mirror.sh"
[ -s "$work/ci-mirror.sh" ] || { echo "e2e: no ci-mirror block in README.md" >&2; exit 1; }
check "README: the CI mirroring recipe, as written (credentials from the Docker config)" 0 in_world "$w" env DOCKER_CONFIG="$work/docker" PATH="$root/bin:$PATH" bash -euo pipefail "$work/ci-mirror.sh"
expect "30 images verified in the mirror" "30 artifacts: 30 verified"
expect "verify-image: the index and its 5 platforms in the mirror" "6 artifacts: 6 verified"
expect_err "the first mirror copied everything" "copied 30 images, 55 signatures, 30 tags"
expect_err "the second copied nothing" "nothing copied: the 30 images, 55 signatures and 30 tags were already there"
check "the real cosign verifies a mirrored index" 0 in_world "$w" sh -c \
	'DOCKER_CONFIG='"$work/docker"' HOME='"$work"' TUF_ROOT='"$work"'/tuf '"$cosign"' verify 127.0.0.1:'"$aport"'/k8s/kube-apiserver:v1.24.17 --certificate-identity krel-trust@k8s-releng-prod.iam.gserviceaccount.com --certificate-oidc-issuer https://accounts.google.com --trusted-root "$K8SVERIFY_TRUSTED_ROOT" --rekor-url "$K8SVERIFY_REKOR_URL" --allow-http-registry'
start=$(date +%s%N)
check "mirror the full release into a registry without authentication" 0 in_world "$w" "$k8sverify" mirror v1.24.17 --to "127.0.0.1:$port/timed" --quiet
echo "      (the full v1.24.17 world, 30 manifests with signatures and tags, copied and verified at the destination in $((($(date +%s%N) - start) / 1000000)) ms)"

echo "== mirror: a forged image and its index are not copied"
fw=$work/forged-image
start_world "$fw" -kind image -fault foreign-identity=kube-proxy-arm64 -tls "$work/tls"
check "mirror with one forged image exits 1" 1 in_world "$fw" "$k8sverify" mirror v1.24.17 --to "127.0.0.1:$port/forged" --no-progress
expect "the forged image is not copied" "kube-proxy .*linux/arm64 .*failed .*not copied: failed at the source"
expect "nor its index, and the report says why" "kube-proxy .*index .*missing .*not copied: an index is copied with every manifest it lists"
expect "the other images are" "28 verified, 1 failed, 0 unsigned, 1 missing"
expect_status "no kube-proxy-arm64 in the mirror" "https://127.0.0.1:$port/v2/forged/kube-proxy-arm64/manifests/v1.24.17" 404
expect_status "no kube-proxy index in the mirror" "https://127.0.0.1:$port/v2/forged/kube-proxy/manifests/v1.24.17" 404
expect_status "kube-proxy-amd64 in the mirror" "https://127.0.0.1:$port/v2/forged/kube-proxy-amd64/manifests/v1.24.17" 200

echo "== mirror: v1.24.8, signed by the promoter's identity (a documented incident)"
m8=$work/v1248-images
start_world "$m8" -version v1.24.8 -kind image -tls "$work/tls"
check "refused without the incident accepted" 1 in_world "$m8" "$k8sverify" mirror v1.24.8 --to "127.0.0.1:$port/v1248" --quiet
check "mirrored with --accept-incident v1.24.8-wrong-identity" 0 in_world "$m8" "$k8sverify" mirror v1.24.8 --to "127.0.0.1:$port/v1248" --accept-incident v1.24.8-wrong-identity
expect "reported as accepted" "verified .*(incident v1.24.8-wrong-identity accepted)"

echo "== air-gapped: the README's recipe; the air-gapped side under unshare -n with its own registry"
mkdir -p "$work/connected" "$work/airgap"
readme_block airgap-connected >"$work/airgap-connected.sh"
readme_block airgap >"$work/airgap.sh.in"
{ [ -s "$work/airgap-connected.sh" ] && [ -s "$work/airgap.sh.in" ]; } || { echo "e2e: no airgap blocks in README.md" >&2; exit 1; }
check "README: the connected side, as written (fetch --with-images into one pack)" 0 in_world "$w" env PATH="$root/bin:$PATH" sh -c 'cd "$1" && bash -euo pipefail "$2"' sh "$work/connected" "$work/airgap-connected.sh"
cp -r "$work/connected/pack" "$work/airgap/pack"
cp "$w/catalog.json" "$w/tuf-root.json" "$work/airgap/"
gport=$(free_port)
sed "s#registry.internal:5000#127.0.0.1:$gport#g" "$work/airgap.sh.in" >"$work/airgap.sh"
registry_config "$work/registry-airgap.yml" registry-airgap "$gport"
# The air-gapped site has a registry, the pack, the TUF root it trusts (the
# world's stands for the one embedded in k8sverify) and, for a test world,
# its catalog; no other network.
tuf_url_w=$(in_world "$w" sh -c 'echo $K8SVERIFY_TUF_URL')
cat >"$work/airgap-run.sh" <<EOF
ip link set lo up 2>/dev/null
"$registry" serve "$work/registry-airgap.yml" >"$work/registry-airgap.log" 2>&1 &
reg=\$!
for _ in \$(seq 1 100); do curl -sf http://127.0.0.1:$gport/v2/ >/dev/null && break; sleep 0.1; done
cd "$work/airgap" && env -i PATH="$root/bin:$PATH" HOME="$work/airgap" K8SVERIFY_NO_PROGRESS=1 \\
	K8SVERIFY_CATALOG="$work/airgap/catalog.json" K8SVERIFY_TUF_URL="$tuf_url_w" \\
	K8SVERIFY_TUF_ROOT="$work/airgap/tuf-root.json" bash -euo pipefail "$work/airgap.sh"
rc=\$?
# The signatures rebuilt from the pack are cosign's own form: the real
# cosign verifies them offline.
HOME="$work/airgap" TUF_ROOT="$work/airgap/tuf" "$cosign" verify 127.0.0.1:$gport/k8s/kube-proxy-arm64:v1.24.17 \
	--certificate-identity krel-trust@k8s-releng-prod.iam.gserviceaccount.com --certificate-oidc-issuer https://accounts.google.com \
	--trusted-root "$w/trusted_root.json" --offline --allow-http-registry >/dev/null 2>"$work/airgap-cosign.err" || { echo "cosign rejects a signature rebuilt from the pack:"; cat "$work/airgap-cosign.err"; rc=1; }
kill \$reg
wait \$reg 2>/dev/null
exit \$rc
EOF
if unshare -n true 2>/dev/null; then
	check "README: the air-gapped side, as written, in a network namespace (unshare -n); the real cosign verifies the copies offline" 0 unshare -n bash "$work/airgap-run.sh"
else
	check "README: the air-gapped side, as written (unshare -n not permitted here); the real cosign verifies the copies offline" 0 bash "$work/airgap-run.sh"
fi
expect "the images verified in the air-gapped registry" "30 artifacts: 30 verified"
expect "verify-image there" "6 artifacts: 6 verified"
expect_err "copied from the pack" "copied from the evidence pack"

echo "== every line: the newest patch of each, bound by its channels"
# The newest patch release of each line the catalog knows (1.24 … 1.36);
# releases after 1.24 are bound by their line's CHANGELOG and the
# promoter's manifest, which the world serves from a host of its own.
newest=v1.24.17,v1.25.16,v1.26.15,v1.27.16,v1.28.15,v1.29.15,v1.30.14,v1.31.14,v1.32.13,v1.33.13,v1.34.11,v1.35.8,v1.36.4
lw=$work/lines
start_world "$lw" -tls "$work/tls" -version "$newest"
# shellcheck disable=SC2086 # one argument per version
check "verify the newest patch of every line" 0 in_world "$lw" "$k8sverify" verify ${newest//,/ } --no-progress
expect "every artifact of 13 releases verified" "1948 artifacts: 1948 verified"
check "list a recent release online" 0 in_world "$lw" "$k8sverify" list v1.36.4 -o json
expect "with the CHANGELOG's sums" '"source": "changelog"'
expect "and the promoter's digests" '"source": "promoter-manifest"'
fw=$work/lines-forged
start_world "$fw" -tls "$work/tls" -version v1.36.4 -kind tarball,image \
	-fault changelog-sum=kubernetes-server-linux-amd64.tar.gz -fault promoter-digest=kube-proxy-amd64 \
	-fault foreign-identity=kubernetes-node-linux-arm64.tar.gz -fault payload-name=kube-apiserver-amd64 -fault rollback=kube-scheduler-arm64
check "a recent line's forgeries fail, the disagreeing CHANGELOG among them" 1 in_world "$fw" "$k8sverify" verify v1.36.4 --kind tarball,image -o json
expect "the CHANGELOG disagrees with the download site" '(changelog)'
expect "the promoter's manifest disagrees with the registry" '(promoter-manifest)'
expect "five failures" '"failed": 5'

echo "== usage"
check "a malformed version is a usage error" 2 "$k8sverify" verify banana
check "plain http to a remote host is refused" 2 "$k8sverify" verify v1.24.17 --rekor-url http://rekor.example.com

echo
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
