#!/usr/bin/env bash
# Regenerates test/fixtures/upgrade/<name>/ from OLD Kura code, never by hand: for each
# <name>=<commit>, a git worktree of that commit is built (npm ci), its demo syncs the sandbox
# at 200 orders twice (a full sync, then an incremental pass after 1% of the orders changed),
# and the warehouse it wrote is exported by exportWarehouse.mjs (DuckDB EXPORT DATABASE, CSV).
# Takes ~3 minutes a commit; needs the network for npm ci. Not run in CI. The sandbox dates its
# history from the day it runs, so after regenerating update MISSING_SHIPPING_LINES in
# test/Upgrade.test.ts (the session-1 fixture's count and dates).
#
#   bash packages/warehouse/scripts/regenerateUpgradeFixtures.sh [name=commit ...]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
repo="$(git -C "$here" rev-parse --show-toplevel)"
work="${KURA_UPGRADE_WORK:-/tmp/upgrade}"
orders="${KURA_UPGRADE_ORDERS:-200}"
# The last commit of sessions 1, 2 and 5 (git log --before the next session's start; session 4's,
# s4-70d2590=70d2590, has the schema of session 5 and was dropped to keep the suite short).
[ $# -gt 0 ] || set -- s1-5afa6e3=5afa6e3 s2-98fb749=98fb749 s5-278cd40=278cd40
mkdir -p "$work"
for spec in "$@"; do
  name="${spec%%=*}"
  sha="${spec#*=}"
  tree="$work/old-$sha"
  data="$work/data-$sha"
  [ -d "$tree" ] || git -C "$repo" worktree add -q --detach "$tree" "$sha"
  [ -d "$tree/node_modules" ] || (cd "$tree" && npm ci --no-audit --no-fund --loglevel=error)
  rm -rf "$data"
  (cd "$tree" && npm run demo -- --orders "$orders" --data "$data" >"$work/demo-$sha-1.log" 2>&1)
  (cd "$tree" && npx node apps/sync-runner/dist/demo.js --orders "$orders" --data "$data" >"$work/demo-$sha-2.log" 2>&1)
  (cd "$here" && npx node scripts/exportWarehouse.mjs "$data/kura.duckdb" "$here/test/fixtures/upgrade/$name")
  printf '%s\n' "Exported by packages/warehouse/scripts/regenerateUpgradeFixtures.sh from commit $(git -C "$repo" rev-parse "$sha") ($(git -C "$repo" log -1 --format='%ad' --date=iso "$sha")): \`npm run demo -- --orders $orders --data <dir>\` run twice in a worktree of that commit (full sync, then an incremental pass after 1% of the orders changed), then \`exportWarehouse.mjs <dir>/kura.duckdb <here>\`." >"$here/test/fixtures/upgrade/$name/README.md"
  rm -rf "$data"
done
echo "fixtures in $here/test/fixtures/upgrade; remove the worktrees with: git worktree remove --force $work/old-<sha>"
