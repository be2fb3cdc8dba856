/**
 * Exports a DuckDB warehouse in a version-neutral form for the upgrade fixtures: DuckDB's
 * `EXPORT DATABASE … (FORMAT csv)` (schema.sql, load.sql, one CSV per table), then the CSVs
 * gzipped (DuckDB reads `.csv.gz` as it reads `.csv`) and load.sql's absolute paths made relative
 * to the fixture directory, so the test can load it from wherever the repository lives.
 *
 *   npx node packages/warehouse/scripts/exportWarehouse.mjs <kura.duckdb> <out-dir>
 *
 * Run by regenerateUpgradeFixtures.sh, never in CI.
 */
import { execFileSync } from "node:child_process"
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { DuckDBInstance } from "@duckdb/node-api"

const [dbPath, outArg] = process.argv.slice(2)
if (dbPath === undefined || outArg === undefined) {
  console.error("usage: exportWarehouse.mjs <kura.duckdb> <out-dir>")
  process.exit(2)
}
const out = resolve(outArg)
rmSync(out, { recursive: true, force: true })
mkdirSync(dirname(out), { recursive: true })
const instance = await DuckDBInstance.create(dbPath, { access_mode: "READ_ONLY" })
const db = await instance.connect()
await db.run("SET TimeZone = 'UTC'")
await db.run(`EXPORT DATABASE '${out.replaceAll("'", "''")}' (FORMAT csv)`)
// EXPORT leaves out comments, and Kura keeps state in them (a view's definition tag, the
// migrations done on _kura_raw): they are appended to schema.sql so the fixture is the old
// warehouse as it was.
const comments = (
  await db.runAndReadAll(
    "SELECT 'TABLE' AS kind, table_name AS name, comment FROM duckdb_tables() WHERE schema_name = 'main' AND comment IS NOT NULL UNION ALL SELECT 'VIEW', view_name, comment FROM duckdb_views() WHERE schema_name = 'main' AND NOT internal AND comment IS NOT NULL ORDER BY kind, name"
  )
).getRowObjectsJson()
const quote = (text) => `'${String(text).replaceAll("'", "''")}'`
const commentSql = comments.map((c) => `COMMENT ON ${c.kind} "${c.name}" IS ${quote(c.comment)};\n`).join("")
db.closeSync()
instance.closeSync()

for (const name of readdirSync(out))
  if (name.endsWith(".csv")) execFileSync("gzip", ["-9n", resolve(out, name)])
const load = readFileSync(resolve(out, "load.sql"), "utf8")
  .replaceAll(`'${out}/`, "'./")
  .replace(/'\.\/([^']+)\.csv'/g, "'./$1.csv.gz'")
writeFileSync(resolve(out, "load.sql"), load)
if (commentSql !== "")
  writeFileSync(resolve(out, "schema.sql"), readFileSync(resolve(out, "schema.sql"), "utf8") + commentSql)
console.log(`exported ${dbPath} -> ${out}`)
