#!/bin/bash
# Queues the shards (a job array) and the merge, which starts once every shard has succeeded.
# Run from the directory the paths are relative to; variables given here reach both jobs
# (sbatch exports the environment), e.g.:
#   SCENARIO=scenarios/cache.toml RUNS=1024 SHARDS_DIR=shards/cache OUT=output/cache \
#       deploy/slurm/submit.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
array=$(sbatch --parsable "$here/shards.sbatch")
array="${array%%;*}"    # "jobid;cluster" on a federation
sbatch --dependency="afterok:${array}" "$here/merge.sbatch"
