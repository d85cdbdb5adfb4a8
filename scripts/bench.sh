#!/usr/bin/env bash
# End-to-end timing of the release binary against kustomize (issue 2, "Performance").
#
# For each size, generates a repository of that many objects with the benchmark's generator
# (benches/support/generator.rs, run through `cargo bench --bench render` with
# BENCH_GENERATE_DIR/BENCH_GENERATE_OBJECTS), then times
#   kubectl-gitops render DIR/app --pr 123
# with hyperfine when installed (else /usr/bin/time), measures its peak RSS, and for sizes up
# to KUSTOMIZE_MAX_OBJECTS times `kubectl kustomize DIR` (kubectl 1.33, kustomize v5.6) on the
# generated kustomization.yaml, which does the same job: namespace, nameSuffix, labels. The
# kustomization sits beside the rendered directory, not in it: kubectl-gitops would build a
# directory holding one with kustomize.
#
# Two shapes: the generator's repository (files of 50 objects in folders), and one file of
# N/5 × (ConfigMap, Deployment, Service, ServiceAccount, claim) ("one-file", which cannot be
# parsed in parallel). Besides the median wall time, each row gives the CPU time of one run
# pinned to one core (`taskset -c 0`, user + system): on a machine others share, it is the
# steadier number.
#
# Environment:
#   SIZES                  object counts (default "500 1000 2000 4000 10000")
#   ONE_FILE_SIZES         object counts of the one-file shape (default "10000")
#   KUSTOMIZE_MAX_OBJECTS  largest size given to kustomize (default 2000: it grows like n²)
#   RUNS                   timed runs of kubectl-gitops per size (default 10)
#   KUSTOMIZE              the kustomize command (default: kubectl.1.33 kustomize next to kubectl,
#                          else `kustomize` on PATH; none: the column shows "-")
#   BENCH_WORKDIR          where inputs go (default: a temporary directory, removed at the end)
set -euo pipefail

cd "$(dirname "$0")/.."
SIZES=${SIZES:-"500 1000 2000 4000 10000"}
ONE_FILE_SIZES=${ONE_FILE_SIZES:-"10000"}
KUSTOMIZE_MAX_OBJECTS=${KUSTOMIZE_MAX_OBJECTS:-2000}
RUNS=${RUNS:-10}

if [[ -n ${BENCH_WORKDIR:-} ]]; then
    work=$BENCH_WORKDIR
    mkdir -p "$work"
else
    work=$(mktemp -d -t kubectl-gitops-bench.XXXXXX)
    trap 'rm -rf "$work"' EXIT
fi

if [[ -z ${KUSTOMIZE:-} ]]; then
    if kubectl=$(command -v kubectl) && [[ -x "$(dirname "$(readlink -f "$kubectl")")/kubectl.1.33" ]]; then
        KUSTOMIZE="$(dirname "$(readlink -f "$kubectl")")/kubectl.1.33 kustomize"
    elif command -v kustomize >/dev/null; then
        KUSTOMIZE="kustomize build"
    fi
fi

echo "building release binary and generator..." >&2
cargo build --release --quiet
cargo bench --bench render --no-run --quiet 2>/dev/null
bin=$PWD/target/release/kubectl-gitops

have_hyperfine=$(command -v hyperfine >/dev/null && echo yes || echo no)
if [[ $have_hyperfine == no ]]; then
    echo "hyperfine not found (apt-get install hyperfine); using /usr/bin/time, median of $RUNS runs" >&2
fi

# Median wall seconds of RUNS runs of "$@" (stdout discarded).
time_runs() {
    if [[ $have_hyperfine == yes ]]; then
        local csv=$work/hyperfine.csv
        hyperfine --style none --warmup 1 --runs "$RUNS" --export-csv "$csv" \
            --output null "$(printf '%q ' "$@")" >/dev/null 2>&1
        awk -F, 'NR == 2 { printf "%.3f", $4 }' "$csv"
    else
        local i
        for ((i = 0; i < RUNS; i++)); do
            /usr/bin/time -f %e "$@" 2>&1 >/dev/null | tail -1
        done | sort -n | awk '{ v[NR] = $1 } END { printf "%.3f", v[int((NR + 1) / 2)] }'
    fi
}

# One run of "$@" with stdout into $work/out.yaml; prints "wall_seconds peak_rss_kib".
# Fails when the command fails.
time_once() {
    /usr/bin/time -f '%e %M' -o "$work/time.txt" "$@" >"$work/out.yaml"
    tail -1 "$work/time.txt"
}

# CPU seconds (user + system) of one run of "$@" on one core.
cpu_once() {
    local pin=()
    command -v taskset >/dev/null && pin=(taskset -c 0)
    /usr/bin/time -f '%U %S' -o "$work/cpu.txt" "${pin[@]}" "$@" >/dev/null
    tail -1 "$work/cpu.txt" | awk '{ printf "%.3f", $1 + $2 }'
}

# Top-level objects in $work/out.yaml.
out_objects() {
    grep -c '^kind:' "$work/out.yaml" || true
}

rows=()
for spec in $(printf 'dirs:%s ' $SIZES) $(printf 'one-file:%s ' $ONE_FILE_SIZES); do
    shape=${spec%%:*}
    n=${spec##*:}
    dir=$work/$shape-$n
    rm -rf "$dir"
    read -r objects files bytes < <(BENCH_GENERATE_SHAPE=$shape BENCH_GENERATE_DIR=$dir \
        BENCH_GENERATE_OBJECTS=$n cargo bench --bench render --quiet 2>/dev/null)
    echo "$shape $n objects: $files files, $bytes bytes" >&2

    # One checked run, for peak RSS: every object plus the preview's Namespace.
    read -r _ rss_kib <<<"$(time_once "$bin" render "$dir/app" --pr 123)"
    if [[ $(out_objects) -ne $((objects + 1)) ]]; then
        echo "render of $n objects printed $(out_objects) objects, expected $((objects + 1))" >&2
        exit 1
    fi
    secs=$(time_runs "$bin" render "$dir/app" --pr 123)
    cpu=$(cpu_once "$bin" render "$dir/app" --pr 123)

    ksecs=-
    ratio=-
    if [[ -n ${KUSTOMIZE:-} && $n -le $KUSTOMIZE_MAX_OBJECTS ]]; then
        echo "  kustomize ($KUSTOMIZE) on $n objects..." >&2
        # shellcheck disable=SC2086 # KUSTOMIZE is a command with arguments
        read -r ksecs _ <<<"$(time_once $KUSTOMIZE "$dir")"
        if [[ $(out_objects) -ne $objects ]]; then
            echo "kustomize printed $(out_objects) objects for $n, expected $objects" >&2
            exit 1
        fi
        ratio=$(awk -v k="$ksecs" -v g="$secs" 'BEGIN { printf "%.0f", k / g }')
    fi
    rows+=("$(printf '%9s %8s %12s %10s %10s %13s %8s %9s' "$shape" "$objects" "$bytes" "$secs" "$cpu" "$ksecs" "$ratio" "$((rss_kib / 1024))")")
done

echo
printf '%9s %8s %12s %10s %10s %13s %8s %9s\n' shape objects bytes "wall s" "1-core s" "kustomize s" "x faster" "RSS MiB"
printf '%s\n' "${rows[@]}"
echo
echo "kubectl-gitops: render DIR/app --pr 123: wall s is the median of $RUNS runs ($([[ $have_hyperfine == yes ]] && echo hyperfine || echo /usr/bin/time)); 1-core s is user + system CPU of one run on one core."
echo "kustomize: ${KUSTOMIZE:-not found}, one run, sizes up to $KUSTOMIZE_MAX_OBJECTS."
