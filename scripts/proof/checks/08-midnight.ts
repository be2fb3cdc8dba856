/**
 * Check 8, midnight: the built demo (`apps/sync-runner/dist/demo.js`: sandbox child, full sync,
 * then a second run that mutates 1% and resumes from the checkpoints) under a wall clock that
 * crosses a day boundary, with the sandbox's data anchored on the day before. Twice: UTC midnight
 * (Shopify's and the runner's UTC dates) and Tokyo midnight, 15:00 UTC (the store's time zone: the
 * Lightspeed business day and Stocky's local dates). Each run must exit 0 with every stream
 * reconciled, orders, revenue and stock equal to the sandbox's ground truth, and no unexplained
 * stock discrepancy. The clock comes from libfaketime, preloaded into the real processes, which
 * run unchanged; without it the check reports SKIP (Debian: `apt-get install faketime`).
 */
import path from "node:path"
import { fakeClockEnv, quick, runCheck, spawnCaptured, workDir } from "../lib.ts"

const CHECK = "midnight"
const DEMO = path.resolve(import.meta.dirname, "../../../apps/sync-runner/dist/demo.js")
const ORDERS = quick ? 300 : 3000
/**
 * Seconds before midnight each run starts: the demo's sandbox generates its merchant (anchored on
 * that clock) before midnight, and its sync starts after it. The second run starts after the
 * boundary in every case, from checkpoints written before it.
 */
const LEAD_S = 3

/** What the demo's report must say for a run to count as exact. */
const EXACT = [
  "orders and revenue match ground truth: yes",
  "stock matches ground truth: yes",
  "    0 unexplained"
]

await runCheck(CHECK, async () => {
  if (fakeClockEnv("+0") === undefined)
    return {
      check: CHECK,
      pass: true,
      skipped: true,
      figure: "libfaketime is not installed (Debian: apt-get install faketime)"
    }
  const day = Date.parse(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`)
  const stamp = (ms: number) => new Date(ms).toISOString().replace("T", " ").slice(0, 19)
  const boundaries = [
    { name: "UTC midnight", at: day + 86_400_000 },
    { name: "Tokyo midnight (15:00 UTC)", at: day + 15 * 3_600_000 }
  ]
  const outcomes: Array<{ boundary: string; run: string; from: string; to: string }> = []
  for (const b of boundaries) {
    const dir = workDir(`${CHECK}-${b.at}`)
    let clock = b.at - LEAD_S * 1000
    for (const run of ["full", "incremental"]) {
      const started = Date.now()
      // One clock for the demo, its re-executed self and its sandbox child (fakeClockEnv).
      const demo = spawnCaptured(`${CHECK}-${run}`, [DEMO, "--orders", String(ORDERS), "--data", dir], {
        env: fakeClockEnv(`@${stamp(clock)}`) ?? {}
      })
      const exit = await demo.exited
      const ended = clock + (Date.now() - started)
      const text = demo.output()
      const missing = EXACT.filter((line) => !text.includes(line))
      if (exit.code !== 0 || missing.length > 0)
        throw new Error(
          `${b.name}, ${run} run (${stamp(clock)} → ${stamp(ended)}): exit ${exit.code}, missing ${JSON.stringify(missing)}\n${text.slice(-3000)}`
        )
      if (run === "full" && ended <= b.at)
        throw new Error(
          `${b.name}: the full run ended at ${stamp(ended)}, before the boundary; start it earlier`
        )
      outcomes.push({ boundary: b.name, run, from: stamp(clock), to: stamp(ended) })
      clock = ended // the next run starts where this one ended: after the boundary
    }
  }
  const fullEnds = outcomes
    .filter((o) => o.run === "full")
    .map((o) => o.to.slice(11))
    .join(" / ")
  return {
    check: CHECK,
    pass: true,
    figure: `${outcomes.length}/${outcomes.length} demo runs across UTC and Tokyo midnight (${ORDERS} orders; the full run from ${LEAD_S} s before the boundary to ${fullEnds}, the incremental after it) exit 0 with orders, revenue and stock equal to the ground truth, 0 unexplained discrepancies`,
    details: { outcomes }
  }
})
