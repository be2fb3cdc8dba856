/**
 * Helpers for checks that drive the harness loader (scripts/proof/loader.ts) against an external
 * `kura-sandbox`: start the sandbox CLI and read its credentials privately, and read back every
 * canonical table of a DuckDB file as counts, content hashes and duplicate keys.
 */
import { spawn } from "node:child_process"
import path from "node:path"
import { DuckDbWarehouse, Warehouse } from "@kura/warehouse"
import { Effect } from "effect"
import { duplicates, registerSecrets, setHash } from "./lib.ts"

/** The built sandbox CLI and the harness loader. */
export const SANDBOX_CLI = path.resolve(import.meta.dirname, "../../packages/sandbox/dist/cli.js")
export const LOADER = path.resolve(import.meta.dirname, "loader.ts")

/** A running `kura-sandbox` and its one JSON line of credentials. */
export interface SandboxCli {
  readonly line: string
  readonly close: () => void
}

/** Starts `kura-sandbox` with `args`; its stdout (credentials, by design) never reaches a log. */
export const startSandboxCli = async (check: string, args: ReadonlyArray<string>): Promise<SandboxCli> => {
  const child = spawn(process.execPath, [SANDBOX_CLI, "--port", "0", ...args], {
    stdio: ["ignore", "pipe", "inherit"]
  })
  const line = await new Promise<string>((resolve, reject) => {
    let buf = ""
    child.stdout.on("data", (c: Buffer) => {
      buf += c.toString("utf8")
      const nl = buf.indexOf("\n")
      if (nl >= 0) resolve(buf.slice(0, nl))
    })
    child.on("exit", (code) => reject(new Error(`kura-sandbox exited with ${code}`)))
  })
  const creds = JSON.parse(line) as {
    shopify: { accessToken: string; clientSecret: string; webhookSecret: string }
    stocky: { apiKey: string }
    lightspeed: { clientSecret: string; refreshToken: string }
  }
  registerSecrets(check, [
    creds.shopify.accessToken,
    creds.shopify.clientSecret,
    creds.shopify.webhookSecret,
    creds.stocky.apiKey,
    creds.lightspeed.clientSecret,
    creds.lightspeed.refreshToken
  ])
  return { line, close: () => void child.kill("SIGTERM") }
}

/** Per canonical table: count, content hash without the per-run lineage columns, duplicate keys. */
export type TableFigures = Record<string, { count: number; hash: string; duplicateKeys: number }>

/** Reads every canonical (non-underscore) table of a DuckDB warehouse file. */
export const readTables = (file: string): Promise<TableFigures> =>
  Effect.runPromise(
    Effect.gen(function* () {
      const wh = yield* Warehouse
      const names = (yield* wh.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_type = 'BASE TABLE' AND table_name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY table_name"
      )).map((r) => String(r.table_name))
      const out: TableFigures = {}
      for (const name of names) {
        const rows = yield* wh.query(`SELECT * FROM "${name}"`)
        const content = rows.map((r) => {
          const { _synced_at: _s, _batch_id: _b, ...rest } = r
          return rest
        })
        const dup = duplicates(rows.map((r) => `${r.source}|${r.source_account}|${r.source_id}`))
        out[name] = { ...setHash(content), duplicateKeys: dup.length }
      }
      return out
    }).pipe(Effect.provide(DuckDbWarehouse.layer({ path: file, migrate: false })))
  )

/** Tables whose count or hash differ, and the populated tables' row total. */
export const compareTables = (a: TableFigures, b: TableFigures) => {
  const tables = [...new Set([...Object.keys(a), ...Object.keys(b)])]
  const populated = tables.filter((t) => (a[t]?.count ?? 0) > 0)
  const differing = tables.filter((t) => a[t]?.hash !== b[t]?.hash || a[t]?.count !== b[t]?.count)
  const rows = populated.reduce((n, t) => n + (a[t]?.count ?? 0), 0)
  const duplicateKeys = tables.reduce((n, t) => n + (b[t]?.duplicateKeys ?? 0), 0)
  return { tables, populated, differing, rows, duplicateKeys }
}
