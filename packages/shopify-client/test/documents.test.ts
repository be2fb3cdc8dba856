import { existsSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { buildShopifySchema } from "@kura/sandbox"
import { Effect } from "effect"
import { buildSchema, parse, validate } from "graphql"
import { describe, expect, it } from "vitest"
import { CHANGED_LEVELS_QUERY } from "../src/InventoryLevelChanges.js"
import { CHANGED_LEVELS_PROBE_QUERY, LocationInventoryLevels } from "../src/InventoryLevelChangesBulk.js"
import { OPERATION_DOCUMENTS, RESOURCE_DOCUMENTS } from "../src/internal/documents/index.js"
import { LOCATION_SUMMARIES_FIELD, LOCATION_SUMMARIES_QUERY } from "../src/LocationSummaries.js"
import { makeShopifyConfig } from "../src/ShopifyConfig.js"

// The same schemas the sandbox executes: the reference 2026-01 Admin schema, and for 2026-10 and
// later that schema plus the sandbox's 2026-10 extension (one copy of the extension, not two).
const schemas = () => ({ base: buildShopifySchema("2026-01"), extended: buildShopifySchema("2026-10") })

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
    for (const [field, doc] of Object.entries(r.detached)) {
      it(`${r.name}: detached ${field} read by nodes(ids:)`, () => check(doc, r.minVersion))
    }
  }
  for (const [name, doc] of Object.entries(OPERATION_DOCUMENTS)) {
    it(`operation ${name}`, () => check(doc, null))
  }
  it("changed inventory levels: per-location page, probe, and the bulk read over every location", () => {
    check(CHANGED_LEVELS_QUERY, null)
    check(CHANGED_LEVELS_PROBE_QUERY, null)
    check(LocationInventoryLevels.documents.page, null)
    check(LocationInventoryLevels.documents.bulk("updated_at:>='2026-01-01T00:00:00Z'"), null)
  })
  it("location summaries: the field embedded in kura-sync's shop query, and the page after", () => {
    check(`query KuraShop { shop { ianaTimezone currencyCode createdAt } ${LOCATION_SUMMARIES_FIELD} }`, null)
    check(LOCATION_SUMMARIES_QUERY, null)
  })
})

describe("the client's default API version", () => {
  it("names a published Admin schema, and every document it sends by default validates against that schema alone", async () => {
    const { apiVersion } = await Effect.runPromise(makeShopifyConfig({ shop: "kura-matcha.myshopify.com" }))
    // The published schemas Kura holds (the emulator's extensions are not a published schema).
    const file = fileURLToPath(
      new URL(`../../sandbox/schema/shopify-admin-${apiVersion}.graphql`, import.meta.url)
    )
    expect(existsSync(file), `no published Admin schema for the default version ${apiVersion}`).toBe(true)
    const schema = buildSchema(readFileSync(file, "utf8"), {
      assumeValid: true,
      assumeValidSDL: true,
      noLocation: true
    })
    const sent = RESOURCE_DOCUMENTS.filter((r) => r.minVersion === null || r.minVersion <= apiVersion)
    expect(sent.length).toBeGreaterThan(5)
    const docs = [
      ...sent.flatMap((r) => [
        r.page,
        r.bulk("updated_at:>='2026-01-01T00:00:00Z'"),
        ...Object.values(r.followUps),
        ...Object.values(r.detached)
      ]),
      ...Object.values(OPERATION_DOCUMENTS)
    ]
    for (const doc of docs) expect(validate(schema, parse(doc)).map((e) => e.message)).toEqual([])
  })
})
