import fs from "node:fs"
import path from "node:path"
import { buildSchema, extendSchema, type GraphQLSchema, parse, validate } from "graphql"
import { describe, expect, it } from "vitest"
import { OPERATION_DOCUMENTS, RESOURCE_DOCUMENTS } from "../src/internal/documents/index.js"

const SCHEMA_FILE = path.resolve(
  import.meta.dirname,
  "../../../../shared/reference/shopify-admin-2026-01.graphql"
)
const schemaPath = fs.existsSync(SCHEMA_FILE)
  ? SCHEMA_FILE
  : "/work/shared/reference/shopify-admin-2026-01.graphql"

let base: GraphQLSchema | undefined
let extended: GraphQLSchema | undefined
const schemas = () => {
  if (base === undefined) {
    base = buildSchema(fs.readFileSync(schemaPath, "utf8"), { assumeValidSDL: true, assumeValid: true })
    const ext = fs.readFileSync(
      path.join(import.meta.dirname, "fixtures/schema-2026-10-extension.graphql"),
      "utf8"
    )
    extended = extendSchema(base, parse(ext), { assumeValidSDL: true, assumeValid: true })
  }
  return { base, extended: extended ?? base }
}

const check = (doc: string, minVersion: string | null) => {
  const { base, extended } = schemas()
  const schema = minVersion !== null && minVersion >= "2026-10" ? extended : base
  const errors = validate(schema, parse(doc)).map((e) => e.message)
  expect(errors).toEqual([])
}

describe("every GraphQL document validates against the Admin schema", () => {
  for (const r of RESOURCE_DOCUMENTS) {
    it(`${r.name}: paged query`, () => check(r.page, r.minVersion))
    it(`${r.name}: bulk query`, () => check(r.bulk("updated_at:>='2026-01-01T00:00:00Z'"), r.minVersion))
    for (const [path, doc] of Object.entries(r.followUps)) {
      it(`${r.name}: follow-up for ${path}`, () => check(doc, r.minVersion))
    }
  }
  for (const [name, doc] of Object.entries(OPERATION_DOCUMENTS)) {
    it(`operation ${name}`, () => check(doc, null))
  }
})
