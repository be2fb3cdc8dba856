/**
 * A fake BigQuery REST API (node:http on 127.0.0.1) that executes the SQL it receives on DuckDB,
 * after checking it against the BigQuery grammar and translating the few dialect differences. Load
 * jobs read their NDJSON source from the fake GCS. Every request and statement is recorded so
 * tests can check what the adapter sent.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api"
import { duckdbDialect, nfkcSql } from "../src/index.js"
import { assertBigQuery } from "./bigQueryGrammar.js"
import type { FakeGcs } from "./fakeGcs.js"

export interface RecordedQuery {
  readonly sql: string
  readonly params: Record<string, string | null>
}

export interface FakeBigQuery {
  readonly endpoint: string
  readonly queries: Array<RecordedQuery>
  readonly loadJobs: Array<Record<string, unknown>>
  readonly requests: Array<{ method: string; path: string }>
  /** Runs SQL directly on the backing DuckDB (DuckDB dialect) for assertions. */
  readonly duck: (sql: string) => Promise<Array<Record<string, unknown>>>
  readonly close: () => Promise<void>
}

const toDuckType = (t: string) =>
  ({
    STRING: "VARCHAR",
    INT64: "BIGINT",
    INTEGER: "BIGINT",
    NUMERIC: "DECIMAL(38,9)",
    FLOAT64: "DOUBLE",
    BOOL: "BOOLEAN",
    BOOLEAN: "BOOLEAN",
    TIMESTAMP: "TIMESTAMPTZ",
    DATE: "DATE",
    JSON: "JSON"
  })[t] ?? t

const toBqType = (t: string) => {
  if (t.startsWith("DECIMAL")) return "NUMERIC"
  return (
    {
      VARCHAR: "STRING",
      BIGINT: "INTEGER",
      INTEGER: "INTEGER",
      BOOLEAN: "BOOLEAN",
      "TIMESTAMP WITH TIME ZONE": "TIMESTAMP",
      DATE: "DATE",
      JSON: "STRING"
    }[t] ?? "STRING"
  )
}

/** Rewrites the generated BigQuery SQL into DuckDB SQL (only what Kura generates). */
const translate = (sql: string, project: string, dataset: string): string => {
  let s = sql.replaceAll(`\`${project}.${dataset}.`, "`")
  s = s.replace(/`([A-Za-z_][A-Za-z0-9_]*)`/g, '"$1"')
  s = s.replace(/@([A-Za-z_][A-Za-z0-9_]*)/g, "$$$1")
  if (s.startsWith("CREATE TABLE")) s = s.replace(/\) (PARTITION BY|CLUSTER BY) .*$/, ")")
  // DATE(ts, zone): the day in an IANA zone (the zone a query parameter).
  s = s.replace(
    /(?<![A-Za-z_"])DATE\(([^(),]*), (\$[A-Za-z_][A-Za-z0-9_]*)\)/g,
    "CAST(timezone($2, $1) AS DATE)"
  )
  s = s.replace(/(?<![A-Za-z_"])DATE\(([^()]*)\)/g, "CAST(timezone('UTC', $1) AS DATE)")
  s = s.replace(/\b(STRING|INT64|NUMERIC|BOOL|TIMESTAMP|FLOAT64)\b/g, (t) => toDuckType(t))
  s = s.replace(/^DELETE ("[A-Za-z0-9_]+") ([a-z]) WHERE/, "DELETE FROM $1 AS $2 WHERE")
  // BigQuery string literals escape backslashes and REGEXP_REPLACE replaces every match; DuckDB
  // strings are raw and need the 'g' flag.
  // BigQuery's NORMALIZE(…, NFKC) has no DuckDB function: the DuckDB dialect's fold stands in.
  s = s.replace(
    /REGEXP_REPLACE\((NORMALIZE\([^,()]+, NFKC\)|[^,()]+), '((?:[^'\\]|\\.)*)', ' '\)/g,
    (_m, arg: string, pattern: string) => {
      const nfkc = /^NORMALIZE\(([^,()]+), NFKC\)$/.exec(arg)
      const expr = nfkc ? nfkcSql(duckdbDialect(), nfkc[1]!) : arg
      return `regexp_replace(${expr}, '${pattern.replaceAll("\\\\", "\\")}', ' ', 'g')`
    }
  )
  s = s.replace(/\bTO_JSON_STRING\(([^()]+)\)/g, "CAST($1 AS VARCHAR)")
  // TO_HEX(MD5(text)): DuckDB's md5 gives the same lower-case hex of the same UTF-8 bytes.
  s = s.replace(/\bTO_HEX\(MD5\(([^()]+)\)\)/g, "md5(CAST($1 AS VARCHAR))")
  // BigQuery JSON_VALUE returns the scalar as STRING; DuckDB's json_value would return JSON.
  s = s.replace(/\bJSON_VALUE\(/g, "json_extract_string(")
  // UNIX_MILLIS(timestamp): DuckDB's epoch_ms of a TIMESTAMPTZ.
  s = s.replace(/\bUNIX_MILLIS\(/g, "epoch_ms(")
  // TIMESTAMP_MILLIS of a column (the readable bookkeeping views): DuckDB's exact equivalent.
  s = s.replace(/\bTIMESTAMP_MILLIS\(([^()]+)\)/g, "make_timestamptz(1000 * $1)")
  s = s.replace(/\bCURRENT_TIMESTAMP\(\)/g, "now()")
  return s
}

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    const parts: Array<Buffer> = []
    req.on("data", (c: Buffer) => parts.push(c))
    req.on("end", () => resolve(Buffer.concat(parts).toString("utf8")))
    req.on("error", reject)
  })

/** Starts the fake for one project and dataset, reading load sources from `gcs`. */
export const startFakeBigQuery = async (
  project: string,
  dataset: string,
  gcs: FakeGcs
): Promise<FakeBigQuery> => {
  const instance = await DuckDBInstance.create(":memory:")
  const db: DuckDBConnection = await instance.connect()
  await db.run("SET TimeZone = 'UTC'")
  const queries: Array<RecordedQuery> = []
  const loadJobs: Array<Record<string, unknown>> = []
  const requests: Array<{ method: string; path: string }> = []
  const jobs = new Map<
    string,
    { status: Record<string, unknown>; statistics: Record<string, unknown>; result: Record<string, unknown> }
  >()
  let jobSeq = 0

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" })
    res.end(JSON.stringify(body))
  }
  const fail = (res: ServerResponse, status: number, message: string) =>
    json(res, status, {
      error: {
        code: status,
        message,
        errors: [{ reason: status === 404 ? "notFound" : "invalidQuery", message }]
      }
    })

  const runQuery = async (body: {
    query: string
    queryParameters?: Array<{ name: string; parameterValue?: { value?: string } }>
  }) => {
    const params: Record<string, string | null> = {}
    for (const p of body.queryParameters ?? []) params[p.name] = p.parameterValue?.value ?? null
    queries.push({ sql: body.query, params })
    if (body.query.startsWith("BEGIN TRANSACTION;\n")) {
      // A multi-statement transaction script: every statement is checked against the grammar,
      // then the whole script runs in one DuckDB transaction (all or nothing, like BigQuery).
      const lines = body.query.split(";\n")
      if (lines[lines.length - 1] !== "COMMIT TRANSACTION;")
        throw new Error("script must end with COMMIT TRANSACTION")
      const inner = lines.slice(1, -1)
      for (const statement of inner) assertBigQuery(statement)
      await db.run("BEGIN TRANSACTION")
      try {
        for (const statement of inner) {
          const sql = translate(statement, project, dataset)
          await db.run(sql, Object.fromEntries(Object.entries(params).filter(([k]) => sql.includes(`$${k}`))))
        }
        await db.run("COMMIT")
      } catch (e) {
        await db.run("ROLLBACK")
        throw e
      }
      return { numDmlAffectedRows: "0" }
    }
    assertBigQuery(body.query)
    const sql = translate(body.query, project, dataset)
    const used = Object.fromEntries(Object.entries(params).filter(([k]) => sql.includes(`$${k}`)))
    if (/^\s*(SELECT|WITH)\b/i.test(sql)) {
      const reader = await db.runAndReadAll(sql, used)
      const names = reader.columnNames()
      const types = reader.columnTypes().map((t) => toBqType(t.toString()))
      const rows = reader.getRowObjectsJson()
      return {
        schema: { fields: names.map((name, i) => ({ name, type: types[i] ?? "STRING", mode: "NULLABLE" })) },
        rows: rows.map((r) => ({
          f: names.map((n) => ({ v: r[n] === null || r[n] === undefined ? null : String(r[n]) }))
        })),
        totalRows: String(rows.length)
      }
    }
    const target = /^MERGE INTO "([A-Za-z0-9_]+)"/.exec(sql)?.[1]
    const count = async () =>
      target === undefined
        ? 0
        : Number(
            (await db.runAndReadAll(`SELECT COUNT(*) AS n FROM "${target}"`)).getRowObjectsJson()[0]?.n ?? 0
          )
    const before = await count()
    const result = await db.run(sql, used)
    const inserted = (await count()) - before
    return {
      numDmlAffectedRows: String(result.rowsChanged),
      ...(target === undefined
        ? {}
        : {
            dmlStats: {
              insertedRowCount: String(inserted),
              updatedRowCount: String(Number(result.rowsChanged) - inserted),
              deletedRowCount: "0"
            }
          })
    }
  }

  const runLoad = async (config: {
    sourceUris: Array<string>
    destinationTable: { tableId: string }
    schema: { fields: Array<{ name: string; type: string }> }
    writeDisposition?: string
  }) => {
    const table = config.destinationTable.tableId
    const cols = config.schema.fields.map((f) => `"${f.name}" ${toDuckType(f.type)}`).join(", ")
    await db.run(
      `CREATE ${config.writeDisposition === "WRITE_TRUNCATE" ? "OR REPLACE " : ""}TABLE "${table}" (${cols})`
    )
    for (const uri of config.sourceUris) {
      const name = uri.replace(/^gs:\/\/[^/]+\//, "")
      const obj = gcs.objects.get(name)
      if (!obj) throw new Error(`Not found: URI ${uri}`)
      const appender = await db.createAppender(table)
      for (const line of obj.data.toString("utf8").split("\n")) {
        if (!line) continue
        const row = JSON.parse(line) as Record<string, string | null>
        for (const f of config.schema.fields) {
          const v = row[f.name]
          if (v === null || v === undefined) appender.appendNull()
          else appender.appendVarchar(v)
        }
        appender.endRow()
      }
      appender.flushSync()
      appender.closeSync()
    }
  }

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://x")
    const path = url.pathname.replace(/^\/bigquery\/v2/, "")
    requests.push({ method: req.method ?? "", path })
    const raw = await readBody(req)
    const base = `/projects/${project}`
    if (req.method === "POST" && path === `${base}/queries`) {
      const body = JSON.parse(raw)
      const jobId = `q-${++jobSeq}`
      try {
        const out = await runQuery(body)
        return json(res, 200, {
          kind: "bigquery#queryResponse",
          jobReference: { projectId: project, jobId, location: body.location ?? "US" },
          jobComplete: true,
          ...out
        })
      } catch (e) {
        return fail(res, 400, e instanceof Error ? e.message : String(e))
      }
    }
    if (req.method === "POST" && path === `${base}/jobs`) {
      const body = JSON.parse(raw)
      const jobId = body.jobReference?.jobId ?? `j-${++jobSeq}`
      const load = body.configuration?.load
      const queryConfig = body.configuration?.query
      let status: Record<string, unknown> = { state: "DONE" }
      let statistics: Record<string, unknown> = {}
      let result: Record<string, unknown> = {}
      if (queryConfig) {
        try {
          result = await runQuery({ query: queryConfig.query, queryParameters: queryConfig.queryParameters })
          statistics = { query: { dmlStats: result.dmlStats, numDmlAffectedRows: result.numDmlAffectedRows } }
        } catch (e) {
          return fail(res, 400, e instanceof Error ? e.message : String(e))
        }
      }
      if (load) {
        loadJobs.push(load)
        try {
          await runLoad(load)
        } catch (e) {
          status = {
            state: "DONE",
            errorResult: { reason: "invalid", message: e instanceof Error ? e.message : String(e) }
          }
        }
      }
      jobs.set(jobId, { status, statistics, result })
      return json(res, 200, {
        kind: "bigquery#job",
        id: `${project}:US.${jobId}`,
        jobReference: { projectId: project, jobId, location: body.jobReference?.location ?? "US" },
        configuration: body.configuration,
        statistics,
        status
      })
    }
    const job = new RegExp(`^${base}/jobs/([^/]+)$`).exec(path)
    if (req.method === "GET" && job) {
      const j = jobs.get(decodeURIComponent(job[1]!))
      if (!j) return fail(res, 404, "job not found")
      return json(res, 200, {
        jobReference: { projectId: project, jobId: job[1] },
        status: j.status,
        statistics: j.statistics
      })
    }
    const results = new RegExp(`^${base}/queries/([^/]+)$`).exec(path)
    if (req.method === "GET" && results) {
      const j = jobs.get(decodeURIComponent(results[1]!))
      if (!j) return fail(res, 404, "job not found")
      return json(res, 200, {
        kind: "bigquery#getQueryResultsResponse",
        jobReference: { projectId: project, jobId: results[1] },
        jobComplete: true,
        ...j.result
      })
    }
    // Dataset metadata and its table list (what a preflight reads); any other dataset is missing.
    const datasetPath = new RegExp(`^${base}/datasets/([^/]+)$`).exec(path)
    if (req.method === "GET" && datasetPath)
      return decodeURIComponent(datasetPath[1]!) === dataset
        ? json(res, 200, {
            kind: "bigquery#dataset",
            id: `${project}:${dataset}`,
            datasetReference: { projectId: project, datasetId: dataset },
            location: "US"
          })
        : fail(res, 404, `Not found: Dataset ${project}:${decodeURIComponent(datasetPath[1]!)}`)
    if (req.method === "GET" && path === `${base}/datasets/${dataset}/tables`) {
      const names = (
        await db.runAndReadAll(
          "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'main' ORDER BY table_name"
        )
      ).getRowObjectsJson()
      return json(res, 200, {
        kind: "bigquery#tableList",
        totalItems: names.length,
        tables: names.map((n) => ({
          kind: "bigquery#table",
          id: `${project}:${dataset}.${String(n.table_name)}`,
          tableReference: { projectId: project, datasetId: dataset, tableId: String(n.table_name) },
          type: n.table_type === "VIEW" ? "VIEW" : "TABLE"
        }))
      })
    }
    const table = new RegExp(`^${base}/datasets/${dataset}/tables/([^/]+)$`).exec(path)
    if (table) {
      const name = decodeURIComponent(table[1]!)
      const cols = (
        await db.runAndReadAll(
          "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = $t ORDER BY ordinal_position",
          { t: name }
        )
      ).getRowObjectsJson()
      if (cols.length === 0) return fail(res, 404, `Not found: Table ${project}:${dataset}.${name}`)
      if (req.method === "DELETE") {
        await db.run(`DROP TABLE "${name}"`)
        res.writeHead(204)
        return res.end()
      }
      return json(res, 200, {
        kind: "bigquery#table",
        tableReference: { projectId: project, datasetId: dataset, tableId: name },
        schema: {
          fields: cols.map((c) => ({
            name: String(c.column_name),
            type: toBqType(String(c.data_type)),
            mode: c.is_nullable === "NO" ? "REQUIRED" : "NULLABLE"
          }))
        }
      })
    }
    fail(res, 501, `fake BigQuery does not implement ${req.method} ${path}`)
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => fail(res, 500, String(e)))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    queries,
    loadJobs,
    requests,
    duck: async (sql) => (await db.runAndReadAll(sql)).getRowObjectsJson(),
    close: () =>
      new Promise<void>((resolve) =>
        server.close(() => {
          db.closeSync()
          instance.closeSync()
          resolve()
        })
      )
  }
}
