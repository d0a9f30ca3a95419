#!/usr/bin/env bash
# make demo: start the hermetic test world (a complete, genuinely signed
# Kubernetes release on 127.0.0.1), run the full audit of it with the built
# CLI, and stop the world; then show what a forgery looks like: a second
# world whose kubectl was signed by another identity, verified as a user
# would. No network beyond loopback. The demo exits with the audit's code
# (0): the forgery failing is what it shows, not a failure of the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-.demo}
version=${DEMO_VERSION:-v1.24.17}
mkdir -p "$dir" bin
go build -o bin/testworld ./internal/testworld/cmd/testworld

worlds=()
trap 'for p in "${worlds[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done' EXIT

# start_world DIR ARGS...: start a test world serving into DIR, wait until
# it is ready, and load its environment (K8SVERIFY_*).
start_world() {
	local wdir=$1
	shift
	mkdir -p "$wdir"
	rm -f "$wdir/env" "$wdir/world.json"
	bin/testworld -dir "$wdir" -version "$version" "$@" >"$wdir/testworld.log" 2>&1 &
	local pid=$!
	worlds+=("$pid")
	for _ in $(seq 1 100); do
		[ -s "$wdir/env" ] && break
		if ! kill -0 "$pid" 2>/dev/null; then
			cat "$wdir/testworld.log" >&2
			exit 1
		fi
		sleep 0.1
	done
	[ -s "$wdir/env" ] || { echo "demo: the test world did not start" >&2; cat "$wdir/testworld.log" >&2; exit 1; }
	cat "$wdir/testworld.log"
	set -a
	# shellcheck disable=SC1091
	. "$wdir/env"
	set +a
}

start_world "$dir" ${DEMO_LATENCY:+-latency "$DEMO_LATENCY"}
echo "+ k8sverify verify $version   (against the test world: $K8SVERIFY_REGISTRY, $K8SVERIFY_DOWNLOAD_URL)"
start=$(date +%s.%N)
set +e
bin/k8sverify verify "$version"
code=$?
set -e
end=$(date +%s.%N)
printf 'demo: k8sverify exited %d after %.2fs\n' "$code" "$(echo "$end - $start" | bc)"

echo
echo "demo: now a forgery: a world whose linux/amd64 kubectl was signed by another identity"
start_world "$dir/forged" -small -kind binary -fault foreign-identity=bin/linux/amd64/kubectl
echo "+ k8sverify verify $version --kind binary --platform linux/amd64 --quiet"
set +e
bin/k8sverify verify "$version" --kind binary --platform linux/amd64 --quiet
forged=$?
set -e
echo "demo: k8sverify exited $forged on the forgery (1: an artifact failed verification), as it must"
exit "$code"
