/**
 * Check 7, secrets: across the whole run, no configured secret value (every check registers the
 * tokens, keys and client secrets it configured) appears in any captured output: each check's
 * stdout/stderr, every child process's (kura-sync serve, loaders), the client log lines the
 * fault-equivalence check recorded, and the JSON results; and the warehouse tables an operator
 * reads back, `_kura_dead_letters` (raw payloads, reasons, details) and `_kura_sync_runs` (run
 * details, error text), of every DuckDB warehouse any check wrote. Runs last (checks run in name
 * order).
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import path from "node:path"
import { DuckDbWarehouse, Warehouse } from "@kura/warehouse"
import { Effect } from "effect"
import { jsonReplacer, proofDir, runCheck } from "../lib.ts"

const CHECK = "secrets"

const filesUnder = (dir: string): Array<string> => {
  const out: Array<string> = []
  let names: Array<string> = []
  try {
    names = readdirSync(dir)
  } catch {
    return out
  }
  for (const name of names) {
    const file = path.join(dir, name)
    if (statSync(file).isDirectory()) out.push(...filesUnder(file))
    else out.push(file)
  }
  return out
}

await runCheck(CHECK, async () => {
  const secrets = new Set<string>()
  for (const file of filesUnder(path.join(proofDir, "secrets")))
    for (const line of readFileSync(file, "utf8").split("\n"))
      if (line.trim().length >= 6) secrets.add(line.trim())
  // Logs and client log captures only: the lake, DuckDB files and this check's own log are not output.
  const searched = [
    ...filesUnder(path.join(proofDir, "logs")).filter((f) => !path.basename(f).startsWith("07-")),
    ...filesUnder(path.join(proofDir, "work")).filter((f) => f.endsWith(".jsonl"))
  ]
  const leaks: Array<{ file: string; secretPrefix: string }> = []
  let bytes = 0
  const search = (name: string, text: string) => {
    bytes += text.length
    for (const s of secrets)
      if (text.includes(s)) leaks.push({ file: name, secretPrefix: `${s.slice(0, 4)}…` })
  }
  for (const file of searched) search(path.relative(proofDir, file), readFileSync(file, "utf8"))
  // The ledger and dead-letter tables of every warehouse the checks wrote.
  const warehouses = filesUnder(path.join(proofDir, "work")).filter((f) => f.endsWith(".duckdb"))
  const tableRows: Record<string, number> = { _kura_dead_letters: 0, _kura_sync_runs: 0 }
  const unreadable: Array<string> = []
  for (const file of warehouses) {
    const dumped = await Effect.runPromise(
      Effect.gen(function* () {
        const wh = yield* Warehouse
        const present = new Set(
          (yield* wh.query(
            "SELECT table_name FROM information_schema.tables WHERE table_name IN ('_kura_dead_letters', '_kura_sync_runs')"
          )).map((r) => String(r.table_name))
        )
        const out: Array<{ table: string; rows: ReadonlyArray<unknown> }> = []
        for (const table of present) out.push({ table, rows: yield* wh.query(`SELECT * FROM "${table}"`) })
        return out
      }).pipe(
        Effect.provide(DuckDbWarehouse.layer({ path: file, migrate: false })),
        Effect.catchCause(() =>
          Effect.sync(() => {
            unreadable.push(path.relative(proofDir, file))
            return []
          })
        )
      )
    )
    for (const { table, rows } of dumped) {
      tableRows[table] = (tableRows[table] ?? 0) + rows.length
      search(`${path.relative(proofDir, file)}#${table}`, JSON.stringify(rows, jsonReplacer))
    }
  }
  const rowsSearched = Object.values(tableRows).reduce((a, b) => a + b, 0)
  return {
    check: CHECK,
    pass: leaks.length === 0 && secrets.size > 0 && searched.length > 0 && unreadable.length === 0,
    figure:
      `${leaks.length} leaks of ${secrets.size} secret values in ${searched.length} captured outputs and ` +
      `${rowsSearched} warehouse rows (${tableRows._kura_dead_letters} _kura_dead_letters, ${tableRows._kura_sync_runs} _kura_sync_runs of ${warehouses.length} DuckDB files); ${Math.round(bytes / 1024)} KiB searched` +
      (unreadable.length === 0 ? "" : `; ${unreadable.length} warehouses unreadable`),
    details: { leaks, unreadable, tableRows, files: searched.map((f) => path.relative(proofDir, f)) }
  }
})
