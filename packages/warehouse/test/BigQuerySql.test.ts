import { describe, expect, it } from "vitest"
import {
  AllTables,
  AllViews,
  bigQueryDialect,
  CanonicalTables,
  createView,
  duckdbDialect,
  normalizeSkuSql,
  RawTable,
  Sql,
  type TableDef
} from "../src/index.js"
import { transactionScript } from "../src/internal/bigqueryEngine.js"
import { updateRawPayloads } from "../src/internal/redactionSql.js"
import { statusVocabularyRewrites } from "../src/internal/StatusVocabularyMigration.js"
import { assertBigQuery } from "./bigQueryGrammar.js"

const d = bigQueryDialect("demo-proj", "kura")

describe("generated BigQuery SQL passes the BigQuery grammar", () => {
  it.each(AllTables.map((t) => [t.name, t] as const))("CREATE TABLE %s", (_name, table) => {
    const sql = Sql.createTable(d, table)
    assertBigQuery(sql)
    expect(sql).not.toMatch(/FLOAT|DOUBLE|DECIMAL/)
  })

  it("canonical tables are date-partitioned and clustered, money is NUMERIC", () => {
    const sql = Sql.createTable(d, CanonicalTables.orders)
    expect(sql).toContain(
      "PARTITION BY DATE(`created_at`) CLUSTER BY `source`, `source_account`, `channel`, `location_id`"
    )
    expect(sql).toContain("`total` NUMERIC")
    expect(sql).toContain("`total_presentment` NUMERIC")
    expect(sql).toContain("`business_date` DATE NOT NULL")
  })

  it.each(AllViews.map((v) => [v.name, v] as const))("CREATE VIEW %s", (_name, view) => {
    assertBigQuery(createView(d, view))
  })

  it.each([...Object.values(CanonicalTables), RawTable].map((t): readonly [string, TableDef] => [t.name, t]))(
    "MERGE and soft delete for %s",
    (_name, table) => {
      const parts = Sql.mergeParts(d, table, table.columns, "_kura_stg_x")
      const merge = Sql.renderMerge(parts)
      assertBigQuery(merge)
      if (table.versionColumn)
        expect(merge).toContain(
          `WHEN MATCHED AND s.\`${table.versionColumn}\` > t.\`${table.versionColumn}\` THEN UPDATE SET`
        )
      else if (table.latestWhenUnversioned)
        expect(merge).toContain(
          // Hashes compared, not payloads: the MERGE does not scan the stored payloads.
          "WHEN MATCHED AND t.`updated_at` IS NULL AND s.`fetched_at` > t.`fetched_at` AND (t.`payload_hash` IS NULL OR s.`payload_hash` IS NULL OR s.`payload_hash` <> t.`payload_hash`) THEN UPDATE SET"
        )
      else expect(merge).not.toContain("WHEN MATCHED")
      assertBigQuery(Sql.softDelete(d, table.name, "_kura_stg_x", "deleted_at"))
      assertBigQuery(Sql.addColumn(d, table.name, { name: "new_field", type: "decimal" }))
    }
  )

  it("inventory_levels keeps one snapshot per day: the day is in the key, the latest observation wins", () => {
    const merge = Sql.renderMerge(
      Sql.mergeParts(d, CanonicalTables.inventory_levels, CanonicalTables.inventory_levels.columns, "_stg")
    )
    expect(merge).toContain(
      "AND t.`snapshot_date` = s.`snapshot_date` WHEN MATCHED AND s.`observed_at` > t.`observed_at`"
    )
    expect(Sql.createTable(d, CanonicalTables.inventory_levels)).toContain("`snapshot_date` DATE NOT NULL")
    // The migration of tables from before the column: add it, then fill it from observed_at.
    assertBigQuery(Sql.addColumn(d, "inventory_levels", { name: "snapshot_date", type: "date" }))
    const fill = Sql.fillUtcDate(d, "inventory_levels", "snapshot_date", "observed_at")
    assertBigQuery(fill)
    expect(fill).toBe(
      "UPDATE `demo-proj.kura.inventory_levels` SET `snapshot_date` = DATE(`observed_at`) WHERE `snapshot_date` IS NULL"
    )
  })

  it("_kura_raw is keyed by record version and matches a NULL updated_at to NULL", () => {
    const merge = Sql.renderMerge(Sql.mergeParts(d, RawTable, RawTable.columns, "_stg"))
    expect(merge).toContain(
      "AND t.`source_id` = s.`source_id` AND (t.`updated_at` = s.`updated_at` OR (t.`updated_at` IS NULL AND s.`updated_at` IS NULL))"
    )
    // The batch is not part of the key (the join); it is only updated for an unversioned record.
    const on = merge.slice(merge.indexOf(") AS s ON "), merge.indexOf(" WHEN "))
    expect(on).not.toContain("`_batch_id` = s.`_batch_id`")
  })

  it("the atomic commit is one BigQuery transaction script whose statements pass the grammar", () => {
    const script = transactionScript([
      Sql.renderMerge(Sql.mergeParts(d, RawTable, RawTable.columns, "_stg")),
      "DELETE FROM `demo-proj.kura._kura_leases` WHERE `stream_key` = @s1_k"
    ])
    const parts = script.split(";\n")
    expect(parts[0]).toBe("BEGIN TRANSACTION")
    expect(parts.at(-1)).toBe("COMMIT TRANSACTION;")
    for (const statement of parts.slice(1, -1)) assertBigQuery(statement)
  })

  it("the one-time _kura_raw clean-up is a BigQuery DELETE keeping the newest fetch", () => {
    const sql = Sql.deleteOlderDuplicates(d, RawTable, ["fetched_at", "_batch_id"])
    assertBigQuery(sql)
    expect(sql).toContain(
      "(n.`updated_at` = t.`updated_at` OR (n.`updated_at` IS NULL AND t.`updated_at` IS NULL))"
    )
    expect(sql).toContain(
      "((n.`fetched_at` > t.`fetched_at`) OR (n.`fetched_at` = t.`fetched_at` AND n.`_batch_id` > t.`_batch_id`))"
    )
  })

  it("the two-spellings _kura_raw clean-up is a BigQuery transaction over an unqualified temp table", () => {
    const count = Sql.duplicateKeyCount(d, RawTable)
    assertBigQuery(count)
    const statements = Sql.keepNewestDuplicates(d, RawTable, ["fetched_at", "_batch_id"])
    for (const sql of statements) assertBigQuery(sql)
    expect(statements[0]).toMatch(/^CREATE TEMP TABLE `_kura_keep_kura_raw` AS /)
    // Ranked newest fetch first, then every other column (JSON as its text: BigQuery cannot order JSON).
    expect(statements[0]).toContain(
      "ORDER BY r.`fetched_at` DESC, r.`_batch_id` DESC, TO_JSON_STRING(r.`payload`) DESC, r.`lake_path` DESC"
    )
    expect(statements[1]).toContain(
      "(k.`updated_at` = t.`updated_at` OR (k.`updated_at` IS NULL AND t.`updated_at` IS NULL))"
    )
    expect(statements[3]).toBe("DROP TABLE `_kura_keep_kura_raw`")
  })

  it("the shipping-lines check reads payload text only for candidate orders, in BigQuery SQL too", () => {
    const sql = Sql.missingShippingLines(d)
    assertBigQuery(sql.candidates)
    assertBigQuery(sql.confirmed)
    expect(sql.candidates).not.toContain("_kura_raw")
    // The STRING payload itself: TO_JSON_STRING would quote and escape it, and match nothing.
    expect(sql.confirmed).toContain(" AND r.`payload` LIKE '%\"shippingLines\":[]%'")
  })

  it("the status-vocabulary rewrites are a count and an UPDATE per table, in BigQuery SQL too", () => {
    const rewrites = statusVocabularyRewrites(d)
    expect(rewrites.map((r) => r.table)).toEqual(["orders", "orders", "purchase_orders"])
    for (const r of rewrites) {
      assertBigQuery(r.count)
      assertBigQuery(r.update)
      expect(r.update).toMatch(/^UPDATE `demo-proj\.kura\.(orders|purchase_orders)` AS p SET /)
    }
    expect(rewrites[2]?.update).toContain("FROM `demo-proj.kura.purchase_order_lines` AS l")
  })

  it("the payload hash fill is one BigQuery UPDATE of the rows without one; the redaction rewrite sets it too", () => {
    const fill = Sql.fillContentHash(d, RawTable)
    assertBigQuery(fill)
    expect(fill).toBe(
      "UPDATE `demo-proj.kura._kura_raw` SET `payload_hash` = TO_HEX(MD5(`payload`)) WHERE `payload_hash` IS NULL"
    )
    const redact = updateRawPayloads(d, 2)
    assertBigQuery(redact)
    expect(redact).toContain("`payload_hash` = TO_HEX(MD5(s.`payload`))")
  })

  it("SKU normalisation is NFKC then one RE2 pattern in both dialects, escaped for BigQuery strings", () => {
    const bq = normalizeSkuSql(d, "x")
    assertBigQuery(`SELECT ${bq} AS n FROM t`)
    expect(bq).toBe(
      String.raw`UPPER(TRIM(REGEXP_REPLACE(NORMALIZE(x, NFKC), '[\\s\\x{0B}\\p{Z}\\x{FEFF}]+', ' ')))`
    )
    expect(normalizeSkuSql(duckdbDialect(), "x")).toMatch(
      /^UPPER\(TRIM\(regexp_replace\(translate\(x, '.+', '.+'\), '\[\\s\\x\{0B\}\\p\{Z\}\\x\{FEFF\}\]\+', ' ', 'g'\)\)\)$/s
    )
  })

  it("v_api_usage reads the ledger's api_usage JSON with JSON_VALUE", () => {
    const view = AllViews.find((v) => v.name === "v_api_usage")!
    const sql = createView(d, view)
    expect(sql).toContain("CAST(JSON_VALUE(r.api_usage, '$.costActual') AS FLOAT64) AS cost_actual")
    expect(Sql.createTable(d, AllTables.find((t) => t.name === "_kura_sync_runs")!)).toContain(
      "`api_usage` STRING"
    )
  })

  it("the grammar check is real: DuckDB DDL and broken SQL are rejected", () => {
    expect(() => assertBigQuery(Sql.createTable(duckdbDialect(), CanonicalTables.orders))).toThrow(
      /BigQuery grammar rejects/
    )
    expect(() => assertBigQuery("SELECT FROM WHERE")).toThrow(/BigQuery grammar rejects/)
    const parts = Sql.mergeParts(d, CanonicalTables.orders, CanonicalTables.orders.columns, "_stg")
    expect(() => assertBigQuery(Sql.renderMerge({ ...parts, on: "t.`source` = = s.`source`" }))).toThrow()
  })

  it("identifiers are validated, never interpolated blindly", () => {
    expect(() => d.table("orders; DROP TABLE x")).toThrow(/invalid SQL identifier/)
    expect(() => bigQueryDialect("demo-proj", "bad-dataset!")).toThrow(/invalid SQL identifier/)
  })
})
