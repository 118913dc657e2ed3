#!/usr/bin/env bash
# Regenerates the stored baselines of one protocol, on purpose. A refresh is a reviewed
# change: commit the new bundles, policy.yaml and table.md together, and say in the commit
# why the numbers moved.
#
#   bash results/refresh.sh smoke                 # every variant, seeds 1993-1995 (~3 min)
#   bash results/refresh.sh fmnist-b5-5-quick     # every variant at 1993 (~35 min on 2 cores)
#   SEEDS="1993 1994 1995" VARIANTS="lucir lucir+aanets" bash results/refresh.sh fmnist-b5-5-quick
#
# Bundles go to results/<protocol>/<method>[+aanets]/seed-<n>.tar.zst, the tolerance
# policy (two pooled seed standard deviations, `cilbench policy`) to
# results/<protocol>/policy.yaml when some variant has two or more seeds, and the
# average-incremental-accuracy tables (CNN and NME) to results/<protocol>/table.md.
set -euo pipefail
cd "$(dirname "$0")/.."
# Baselines are made with the AVX2 kernels of oneDNN and OpenBLAS, so that every AVX2-capable
# host (AVX-512 ones too) reproduces them bit for bit under the same pins (.ci/check-baselines).
export DNNL_MAX_CPU_ISA=${DNNL_MAX_CPU_ISA:-AVX2} OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Zen}
protocol=${1:?usage: results/refresh.sh <protocol>}
bin=${CILBENCH:-.build/release/cilbench}
[ -x "$bin" ] || swift build -c release
all="finetune joint lwf lwf+aanets icarl icarl+aanets lucir lucir+aanets podnet podnet+aanets mnemonics mnemonics+aanets"
if [ "$protocol" = smoke ]; then
  variants=${VARIANTS:-$all}; seeds=${SEEDS:-"1993 1994 1995"}
else
  variants=${VARIANTS:-${all#finetune joint }}; seeds=${SEEDS:-1993}
fi
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
for seed in $seeds; do
  for variant in $variants; do
    method=${variant%+aanets}; flag=""
    [ "$variant" != "$method" ] && flag=--aanets
    echo "refresh: $protocol $variant seed $seed"
    start=$(date +%s)
    # The phase-0 cache lives outside results/ and is dropped afterwards.
    "$bin" run "$protocol" --method "$method" $flag --seed "$seed" --out "$cache/runs" >"$cache/log" 2>&1 || { tail -20 "$cache/log"; exit 1; }
    mkdir -p "results/$protocol/$variant"
    mv "$cache/runs/$protocol/$variant/seed-$seed.tar.zst" "results/$protocol/$variant/seed-$seed.tar.zst"
    echo "refresh:   $(( $(date +%s) - start )) s"
  done
done
"$bin" policy "results/$protocol" --protocol "$protocol" --out "results/$protocol/policy.yaml" || echo "refresh: no policy derived (one seed per variant); keeping the existing one"
{
  echo "# $protocol: average incremental accuracy (%), mean ± std over the stored seeds"
  echo
  echo "Made by \`bash results/refresh.sh $protocol\` at commit $(git rev-parse --short HEAD)."
  echo
  echo "## CNN"
  echo
  "$bin" table "results/$protocol"
  echo
  echo "## NME"
  echo
  "$bin" table "results/$protocol" --classifier nme
} > "results/$protocol/table.md"
echo "refresh: wrote results/$protocol (review, then commit)"
