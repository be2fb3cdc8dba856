/**
 * Checks SQL against the BigQuery grammar of node-sql-parser. MERGE is outside that grammar, so
 * a MERGE is split into the statements it is made of (its source SELECT, the match condition,
 * the UPDATE and the INSERT), and each of those is parsed.
 */
import pkg from "node-sql-parser"

const parser = new pkg.Parser()

/** Throws with the statement when BigQuery's grammar rejects it. */
export const assertBigQuery = (sql: string): void => {
  const merge =
    /^MERGE INTO (\S+) AS t USING \((.*)\) AS s ON (.*?)(?: WHEN MATCHED AND (.*?) THEN UPDATE SET (.*?))? WHEN NOT MATCHED THEN INSERT \((.*?)\) VALUES \((.*)\)$/s.exec(
      sql
    )
  const statements = merge
    ? [
        merge[2]!,
        `SELECT 1 FROM ${merge[1]} AS t, (${merge[2]}) AS s WHERE ${merge[3]}${merge[4] ? ` AND ${merge[4]}` : ""}`,
        ...(merge[5]
          ? [`UPDATE ${merge[1]} AS t SET ${merge[5]} FROM (${merge[2]}) AS s WHERE ${merge[3]}`]
          : []),
        `INSERT INTO ${merge[1]} (${merge[6]}) SELECT ${merge[7]} FROM (${merge[2]}) AS s`
      ]
    : [sql]
  for (const statement of statements) {
    try {
      parser.astify(statement, { database: "bigquery" })
    } catch (e) {
      throw new Error(
        `BigQuery grammar rejects: ${e instanceof Error ? e.message : String(e)}\n  in: ${statement}`
      )
    }
  }
}
