#!/usr/bin/env bash
# `make docker-test`: the container end to end, from no images at all.
#  1. the base image (scripts/docker_base_image.sh: debootstrap + docker import where no registry is reachable);
#  2. the image (multi-stage Dockerfile), with build times;
#  3. `docker run clt-kit` prints help; the user is not root; the runtime has no compilers;
#  4. README's command, `docker run --network none -v "$PWD/results:/results" clt-kit reproduce
#     --figure 2 --scale smoke`, into a fresh host folder; the image's `duckdb` command reads the
#     results; then the DuckDB file and the figure are opened on the host.
# Needs a Docker engine; fails (never skips) without one.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE="${IMAGE:-clt-kit}"
PY="${PY:-.venv/bin/python}"
say() { printf '\n== %s\n' "$*"; }

docker version --format 'docker engine {{.Server.Version}}' || { echo "error: no Docker engine answers; start dockerd" >&2; exit 1; }

say "base image"
scripts/docker_base_image.sh

say "image $IMAGE"
build=(docker build -t "$IMAGE" .)
# Without the buildx plugin, docker's classic builder (it builds this Dockerfile the same way).
docker buildx version >/dev/null 2>&1 || export DOCKER_BUILDKIT=0
# Behind a TLS-intercepting proxy, the build stage must trust its CA as this machine does: Debian's
# place for site CAs is /usr/local/share/ca-certificates (the Dockerfile's EXTRA_CA_CERTS).
shopt -s nullglob
cas=(/usr/local/share/ca-certificates/*.crt)
shopt -u nullglob
if ((${#cas[@]})); then build+=(--build-arg "EXTRA_CA_CERTS=$(cat "${cas[@]}")"); fi
start=$SECONDS
"${build[@]}" >.docker-build.log 2>&1 || { tail -40 .docker-build.log >&2; echo "error: docker build failed (log: .docker-build.log)" >&2; exit 1; }
echo "built in $((SECONDS - start)) s; size $(docker image inspect "$IMAGE" --format '{{.Size}}' | awk '{printf "%.2f GB", $1/1e9}')"

say "help, user, no compilers"
docker run --rm "$IMAGE" | grep -q "Usage: clt-kit" || { echo "error: 'docker run $IMAGE' did not print help" >&2; exit 1; }
uid=$(docker run --rm --entrypoint id "$IMAGE" -u)
[[ "$uid" != 0 ]] || { echo "error: the image runs as root" >&2; exit 1; }
compilers=$(docker run --rm --entrypoint sh "$IMAGE" -c 'for c in cargo rustc gcc cc; do command -v $c; done; ls /root/.cache /home/clt/.cache 2>/dev/null' || true)
[[ -z "$compilers" ]] || { echo "error: the runtime image has compilers or caches: $compilers" >&2; exit 1; }
echo "help printed; runs as uid $uid; no cargo, rustc, gcc or caches"

say "reproduce --figure 2 --scale smoke, no network, results on a host volume"
results="$PWD/.docker-test/results"
rm -rf "$results" && mkdir -p "$results" && chmod a+rwx "$results"  # the image's user (uid 1000) writes here
start=$SECONDS
docker run --rm --network none -v "$results:/results" "$IMAGE" reproduce --figure 2 --scale smoke --seed 1
echo "reproduced in $((SECONDS - start)) s"

say "the image's duckdb command reads the results file"
runs=$(docker run --rm --network none -v "$results:/results" --entrypoint duckdb "$IMAGE" -readonly -noheader -csv /results/clt.duckdb \
  "SELECT count(*) FROM runs WHERE status = 'done'")
[[ "$runs" == 18 ]] || { echo "error: the image's duckdb read $runs runs, expected 18" >&2; exit 1; }
echo "duckdb in the image: $runs runs"

say "on the host"
"$PY" - "$results" <<'PY'
import sys
from pathlib import Path

import duckdb
import matplotlib.image

results = Path(sys.argv[1])
with duckdb.connect(str(results / "clt.duckdb"), read_only=True) as con:
    runs = con.execute("SELECT count(*) FROM runs WHERE status = 'done'").fetchone()[0]
    rel = con.execute("SELECT count(*) FROM rel_to_english").fetchone()[0]
png = matplotlib.image.imread(results / "figures" / "figure2.png")
assert runs == 18 and rel == 18, (runs, rel)
assert png.shape[0] > 200 and png.shape[1] > 200, png.shape
for ext in ("pdf", "svg", "csv"):
    assert (results / "figures" / f"figure2.{ext}").stat().st_size > 0, ext
print(f"{results}/clt.duckdb: {runs} runs; figure2.png {png.shape[1]}x{png.shape[0]} px; pdf, svg, csv present")
PY
rm -rf "$results"
say "docker-test passed"
