#!/usr/bin/env bash
# make fuzz: run every Go fuzz target of the module (func FuzzX(f *testing.F),
# found with go test -list) for FUZZTIME each, one after another, with
# FUZZPARALLEL workers, minimizing each new input for at most
# FUZZMINIMIZETIME (Go's default, 60s per input, starves the slow targets).
# Go writes a crasher to the package's testdata/fuzz/FuzzX/: commit it with
# the fix, and it runs with every go test. Prints the time per target and
# exits non-zero if any failed. FUZZ=REGEXP runs only the targets it matches.
set -uo pipefail
cd "$(dirname "$0")/.."
go=${GO:-go}
fuzztime=${FUZZTIME:-30s}
parallel=${FUZZPARALLEL:-2}
minimize=${FUZZMINIMIZETIME:-10s}
only=${FUZZ:-.}

failed=()
summary=()
total_start=$(date +%s)
for pkg in $($go list ./...); do
	targets=$($go test -list '^Fuzz' "$pkg" | grep '^Fuzz' | grep -E -- "$only") || continue
	for fn in $targets; do
		echo "== $fn ($pkg) for $fuzztime"
		start=$(date +%s)
		if $go test -run '^$' -fuzz "^$fn\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" -parallel "$parallel" "$pkg"; then
			status=ok
		else
			status=FAILED
			failed+=("$fn")
		fi
		summary+=("$(printf '%-26s %-40s %5ss %s' "$fn" "${pkg#github.com/k8sverify/k8sverify/}" "$(($(date +%s) - start))" "$status")")
	done
done
echo
printf '%s\n' "${summary[@]}"
echo "fuzzed ${#summary[@]} targets in $(($(date +%s) - total_start))s"
if [ ${#failed[@]} -gt 0 ]; then
	echo "failed: ${failed[*]} (crashers in the packages' testdata/fuzz/)" >&2
	exit 1
fi
