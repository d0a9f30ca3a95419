#!/usr/bin/env bash
# make demo: start the hermetic test world (a complete, genuinely signed
# Kubernetes release on 127.0.0.1), run the full audit of it with the built
# CLI, and stop the world. No network beyond loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-.demo}
version=${DEMO_VERSION:-v1.24.17}
mkdir -p "$dir" bin
rm -f "$dir/env" "$dir/world.json"
go build -o bin/testworld ./internal/testworld/cmd/testworld
bin/testworld -dir "$dir" -version "$version" ${DEMO_LATENCY:+-latency "$DEMO_LATENCY"} >"$dir/testworld.log" 2>&1 &
world=$!
trap 'kill $world 2>/dev/null || true; wait $world 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
	[ -s "$dir/env" ] && break
	if ! kill -0 "$world" 2>/dev/null; then
		cat "$dir/testworld.log" >&2
		exit 1
	fi
	sleep 0.1
done
[ -s "$dir/env" ] || { echo "demo: the test world did not start" >&2; cat "$dir/testworld.log" >&2; exit 1; }
cat "$dir/testworld.log"
set -a
# shellcheck disable=SC1091
. "$dir/env"
set +a
echo "+ k8sverify verify $version   (against the test world: $K8SVERIFY_REGISTRY, $K8SVERIFY_DOWNLOAD_URL)"
start=$(date +%s.%N)
set +e
bin/k8sverify verify "$version"
code=$?
set -e
end=$(date +%s.%N)
printf 'demo: k8sverify exited %d after %.2fs\n' "$code" "$(echo "$end - $start" | bc)"
exit "$code"
