#!/usr/bin/env bash
# Before/after: run the statistics, search and push benchmarks for two commits in one window,
# alternating, on the same machine and data (docs/performance.md, "The layout refactor").
#   bench/compare.sh BEFORE_REV AFTER_REV [OUT_DIR]
# Needs the 1,000,000-refusal database of bench/statistics.py (bench/README.md) and the venv of
# `make install-dev`. Each commit runs from its own git worktree under OUT_DIR; nothing else
# should run on the machine meanwhile (about 25 minutes).
set -euo pipefail
before=${1:?usage: bench/compare.sh BEFORE_REV AFTER_REV [OUT_DIR]}
after=${2:?usage: bench/compare.sh BEFORE_REV AFTER_REV [OUT_DIR]}
root=$(cd "$(dirname "$0")/.." && pwd)
out=${3:-$root/bench/results/compare-$(date +%Y%m%d-%H%M)}
mkdir -p "$out"
python="$root/.venv/bin/python"
for name in before after; do
  rev=$([ "$name" = before ] && echo "$before" || echo "$after")
  rm -rf "$out/$name"
  git -C "$root" worktree add --force --detach "$out/$name" "$rev" >/dev/null
done
trap 'git -C "$root" worktree remove --force "$out/before"; git -C "$root" worktree remove --force "$out/after"' EXIT
# The newer tree's migrations (the older one ignores tables and columns it does not know).
(cd "$out/after" && DATABASE_URL=${STATISTICS_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/birthcare_gen_big} \
  "$python" manage.py migrate --no-input -v0)
for round in 1 2; do
  for name in before after; do
    (cd "$out/$name" && "$python" bench/statistics.py --repeat 20 > "$out/statistics-$name-$round.txt" 2>&1)
    (cd "$out/$name" && "$python" bench/search.py --searches 1000 > "$out/search-$name-$round.txt" 2>&1)
  done
done
for name in before after; do
  (cd "$out/$name" && "$python" bench/push_latency.py --clients 100,1000 --updates 20 --interval 0.2 \
    --quiet-wait 60 > "$out/push-$name.txt" 2>&1)
done
echo "results in $out"
