#!/usr/bin/env bash
# Usage: benchmarks/sample_rss.sh OUT_FOLDER  (start it while `zcnas score ... --out OUT_FOLDER` runs; prints every 30 s)
# Every 30 s: resident memory (MiB) of the zcnas score process writing to $1 and of each of its workers.
main=$(pgrep -f "python3 .venv/bin/zcnas score.*$1" | head -1)
while kill -0 "$main" 2>/dev/null; do
  rss=""
  for c in $(pgrep -P "$main"); do r=$(awk '/VmRSS/{print int($2/1024)}' /proc/$c/status 2>/dev/null); rss="$rss $c:$r"; done
  echo "$(date -u +%T) main $main:$(awk '/VmRSS/{print int($2/1024)}' /proc/$main/status) workers:$rss parts:$(ls "$1" | grep -c parquet)"
  sleep 30
done
