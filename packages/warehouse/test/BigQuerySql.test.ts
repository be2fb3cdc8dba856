import { describe, expect, it } from "vitest"
import {
  AllTables,
  AllViews,
  bigQueryDialect,
  CanonicalTables,
  createView,
  duckdbDialect,
  RawTable,
  Sql,
  type TableDef
} from "../src/index.js"
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
        expect(merge).toContain("WHEN MATCHED AND s.`updated_at` > t.`updated_at` THEN UPDATE SET")
      else expect(merge).not.toContain("WHEN MATCHED")
      assertBigQuery(Sql.softDelete(d, table.name, "_kura_stg_x", "deleted_at"))
      assertBigQuery(Sql.addColumn(d, table.name, { name: "new_field", type: "decimal" }))
    }
  )

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
