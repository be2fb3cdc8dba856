/**
 * Summarises a window of a kura-sync trace (scripts/proof/traceHook.mjs): `node
 * scripts/proof/traceReport.mjs <dir> <from> <to>` (ISO instants, e.g. a pass's first trigger and
 * its close from the serve log). Prints the DuckDB statements (count, summed time, the time the
 * connection was busy with at least one, automatic checkpoints), the statement kinds that cost
 * most, garbage collections, the event loop's worst delay and, when `dir/proxy.jsonl` exists
 * (KURA_PROOF_SANDBOX_TRACE), the API calls per call shape with their time at the emulator.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs"
import path from "node:path"

const [dir, fromText, toText] = process.argv.slice(2)
if (dir === undefined || fromText === undefined || toText === undefined) {
  console.error("usage: node scripts/proof/traceReport.mjs <trace dir> <from ISO> <to ISO>")
  process.exit(2)
}
const from = Date.parse(fromText)
const to = Date.parse(toText)
const lines = (file) =>
  readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l))
const entries = readdirSync(dir)
  .filter((f) => /^trace-\d+\.jsonl$/.test(f))
  .flatMap((f) => lines(path.join(dir, f)))
  .filter((e) => e.t0 >= from && e.t0 <= to)

const sql = entries.filter((e) => e.k === "sql").sort((a, b) => a.t0 - b.t0)
let busy = 0
let open
for (const s of sql) {
  if (open === undefined || s.t0 > open[1]) {
    if (open !== undefined) busy += open[1] - open[0]
    open = [s.t0, s.t1]
  } else open[1] = Math.max(open[1], s.t1)
}
if (open !== undefined) busy += open[1] - open[0]
const checkpoints = sql.filter((s) => s.w0 > 0 && s.w1 < s.w0)
const ms = (n) => `${n.toFixed(0)} ms`
console.log(
  `window ${ms(to - from)}: ${sql.length} statements, ${ms(sql.reduce((n, s) => n + s.t1 - s.t0, 0))} summed, connection busy ${ms(busy)} (${((100 * busy) / (to - from)).toFixed(0)}%), ${checkpoints.length} automatic checkpoint(s)`
)
const kindOf = (s) => {
  const text = s.sql.replace(/^BEGIN TRANSACTION; /, "")
  const m =
    /^(MERGE INTO|UPDATE|DELETE FROM|INSERT INTO|CREATE OR REPLACE TEMP TABLE|DROP TABLE IF EXISTS) "?([\w]+)/.exec(
      text
    ) ?? /^SELECT .*? FROM "?([\w]+)/.exec(text)
  if (m === null) return `${s.m} ${text.slice(0, 40)}`
  return m.length === 3 ? `${m[1]} ${m[2]}` : `SELECT … FROM ${m[1]}`
}
const byKind = new Map()
for (const s of sql) {
  const k = kindOf(s)
  const v = byKind.get(k) ?? { n: 0, ms: 0, max: 0 }
  v.n++
  v.ms += s.t1 - s.t0
  v.max = Math.max(v.max, s.t1 - s.t0)
  byKind.set(k, v)
}
console.log("\n| statement | count | summed ms | longest ms |\n| --- | --- | --- | --- |")
for (const [k, v] of [...byKind].sort((a, b) => b[1].ms - a[1].ms).slice(0, 20))
  console.log(`| ${k} | ${v.n} | ${v.ms.toFixed(0)} | ${v.max.toFixed(0)} |`)
const gc = entries.filter((e) => e.k === "gc")
const lag = entries.filter((e) => e.k === "lag")
console.log(
  `\ngc: ${gc.length} collections, ${ms(gc.reduce((n, g) => n + g.d, 0))}; event loop delay: worst ${ms(Math.max(0, ...lag.map((l) => l.max)))}`
)
const proxyFile = path.join(dir, "proxy.jsonl")
if (existsSync(proxyFile)) {
  const calls = lines(proxyFile).filter((c) => c.t0 >= from && c.t0 <= to)
  const byShape = new Map()
  for (const c of calls) {
    const v = byShape.get(c.key) ?? { n: 0, ms: 0, first: c.t0 }
    v.n++
    v.ms += c.t1 - c.t0
    byShape.set(c.key, v)
  }
  console.log(
    "\n| call | requests | at the emulator ms | first at (ms into the window) |\n| --- | --- | --- | --- |"
  )
  for (const [k, v] of [...byShape].sort((a, b) => a[1].first - b[1].first))
    console.log(`| ${k} | ${v.n} | ${v.ms.toFixed(0)} | ${(v.first - from).toFixed(0)} |`)
}
