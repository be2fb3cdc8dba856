/**
 * Builds (once per process) the real Shopify Admin GraphQL schema the emulator executes against,
 * plus the 2026-10 extension. The 2.6 MB SDL ships inside the package (`schema/`, a verbatim copy
 * of the reference 2026-01 Admin schema), so the published package and the `kura-sandbox` bin work
 * anywhere; a `shared/reference` copy next to the checkout is also accepted.
 */
import fs from "node:fs"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { buildSchema, extendSchema, type GraphQLSchema, parse } from "graphql"
import { SCHEMA_2026_10_EXTENSION } from "./schema2026_10.js"
import { versionAtLeast } from "./versions.js"

const SCHEMA_FILE = "shopify-admin-2026-01.graphql"

const moduleDir = (): string | null => {
  if (typeof __dirname === "string") return __dirname
  try {
    return path.dirname(fileURLToPath(import.meta.url))
  } catch {
    return null
  }
}

const upward = (start: string): ReadonlyArray<string> => {
  const out: Array<string> = []
  let dir = path.resolve(start)
  for (;;) {
    out.push(path.join(dir, "schema", SCHEMA_FILE))
    out.push(path.join(dir, "shared", "reference", SCHEMA_FILE))
    out.push(path.join(dir, "reference", SCHEMA_FILE))
    const parent = path.dirname(dir)
    if (parent === dir) return out
    dir = parent
  }
}

/**
 * Finds the Admin schema SDL: `schemaPath` when given, else `shared/reference/<file>` in the
 * nearest ancestor of the working directory or of this module. Throws a message naming the fix.
 */
export const locateAdminSchema = (schemaPath?: string): string => {
  if (schemaPath !== undefined) {
    if (!fs.existsSync(schemaPath)) {
      throw new Error(
        `Shopify emulator: schemaPath ${schemaPath} does not exist; pass the path of ${SCHEMA_FILE}`
      )
    }
    return schemaPath
  }
  const here = moduleDir()
  const candidates = [...(here === null ? [] : upward(here)), ...upward(process.cwd())]
  const found = candidates.find((c) => fs.existsSync(c))
  if (found === undefined) {
    throw new Error(
      `Shopify emulator: could not find ${SCHEMA_FILE} (the package's schema/ folder or shared/reference) upward from ${process.cwd()}; pass options.schemaPath`
    )
  }
  return found
}

const cache = new Map<string, GraphQLSchema>()

/**
 * The Admin schema for an API version: the 2026-01 reference for older versions, extended with
 * the hand-written 2026-10 additions (InventoryPurchaseOrder…) for 2026-10 and newer. Cached.
 */
export const buildShopifySchema = (version: string, schemaPath?: string): GraphQLSchema => {
  const file = locateAdminSchema(schemaPath)
  const extended = versionAtLeast(version, "2026-10")
  const key = `${file}#${extended ? "2026-10" : "2026-01"}`
  const cached = cache.get(key)
  if (cached !== undefined) return cached
  let schema = cache.get(`${file}#2026-01`)
  if (schema === undefined) {
    schema = buildSchema(fs.readFileSync(file, "utf8"), {
      assumeValid: true,
      assumeValidSDL: true,
      noLocation: true
    })
    cache.set(`${file}#2026-01`, schema)
  }
  if (extended) {
    schema = extendSchema(schema, parse(SCHEMA_2026_10_EXTENSION), {
      assumeValid: true,
      assumeValidSDL: true
    })
    cache.set(key, schema)
  }
  return schema
}
