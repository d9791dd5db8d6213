#!/bin/sh
# The deploy job of the pipelines in docs/ci.md (github-actions.yml, gitlab-ci.yml): validate,
# run the pre-flight checklist, deploy, and keep the JSON documents as the job's artifacts.
#   sh examples/ci/slipway-ci.sh ENV [VERSION]
# SLIPWAY is the command (default: npx slipway). The job runs Slipway in-process: a CI runner
# wants no daemon left behind. It exits with Slipway's code: 0 deployed, 1 checks failed or the
# deploy failed and was rolled back, 2 spec or usage error, 3 locked, 4 refused by a protection rule.
set -u
ENV=${1:?usage: slipway-ci.sh ENV [VERSION]}
VERSION=${2:-}
SLIPWAY=${SLIPWAY:-npx slipway}
OUT=${SLIPWAY_ARTIFACTS:-slipway-artifacts}
mkdir -p "$OUT"
rm -f "$OUT/check.json" "$OUT/deploy.json" "$OUT/history.json" # this run's documents only

# With --json the reason of a failure is in the artifact: print it in the job's log too.
reason() {
  node -e 'try { const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    if (!j.ok && j.error) console.log("slipway: " + j.error.message); } catch {}' "$1" 2>/dev/null || true
}

$SLIPWAY validate || exit $?
$SLIPWAY --in-process check "$ENV" --json >"$OUT/check.json"
code=$?
if [ "$code" -eq 0 ]; then
  # --yes: in CI the pipeline's own approval (a protected GitHub/GitLab environment) is the confirmation.
  $SLIPWAY --in-process deploy "$ENV" ${VERSION:+--version "$VERSION"} --yes --json >"$OUT/deploy.json"
  code=$?
  [ "$code" -eq 0 ] || reason "$OUT/deploy.json"
else
  reason "$OUT/check.json"
fi
$SLIPWAY --in-process history "$ENV" --json >"$OUT/history.json" || true

case "$code" in
  0) echo "slipway: $ENV deployed" ;;
  1) echo "slipway: $ENV not deployed: checks failed, or the deploy failed and was rolled back (see $OUT/)" ;;
  2) echo "slipway: $ENV not deployed: spec or usage error (see above)" ;;
  3) echo "slipway: $ENV is locked by another operation" ;;
  4) echo "slipway: refused by a protection rule (freeze, confirmation, cluster)" ;;
  *) echo "slipway: exit $code" ;;
esac
exit "$code"
