#!/bin/bash
# Writes the committed dumps: make.sh NAME SERVER_BINARY [hfe]. The server runs with
# list-compress-depth 1 (so long lists have LZF-compressed nodes) on a free port, in a
# temporary directory; the dump is copied to tests/corpus/rdb/NAME.rdb.
set -euo pipefail
name=$1; bin=$2; extra=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d); port=$((20000 + RANDOM % 20000))
"$bin" --port $port --bind 127.0.0.1 --dir "$dir" --save "" --appendonly no --daemonize yes \
  --logfile "$dir/log" --list-compress-depth 1 >/dev/null
sleep 0.5
python3 "$here/dataset.py" $extra | redis-cli -p $port --pipe >/dev/null
redis-cli -p $port save >/dev/null
redis-cli -p $port shutdown nosave >/dev/null 2>&1 || true
cp "$dir/dump.rdb" "$here/$name.rdb"
rm -rf "$dir"
ls -l "$here/$name.rdb"
