/**
 * The built `kura-sync redact` commands against a DuckDB file and a lake directory: customer
 * redaction, the ledger, and the confirmation `redact shop` requires.
 */
import { execFile } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { DuckDbWarehouse, LocalObjectStore, RawLake, Warehouse } from "@kura/warehouse"
import { Effect, Layer, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"

const main = join(inject("builtAppDir"), "main.js")
const SHOP = "redact-cli.myshopify.com"
let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kura-redact-cli-"))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const customer = (id: string, email: string) =>
  JSON.stringify({
    __typename: "Customer",
    id: `gid://shopify/Customer/${id}`,
    legacyResourceId: id,
    firstName: "Ann",
    lastName: "Lee",
    displayName: "Ann Lee",
    updatedAt: "2026-11-20T00:00:00Z",
    defaultEmailAddress: { emailAddress: email }
  })

describe("kura-sync redact", () => {
  it("redacts a customer, lists the ledger, and deletes a shop only with --yes", async () => {
    const path = join(dir, "kura.duckdb")
    const lakeDir = join(dir, "lake")
    await Effect.runPromise(
      Effect.gen(function* () {
        const w = yield* Warehouse
        const lake = yield* RawLake
        yield* w.migrate
        yield* lake.writeBatch({
          key: { source: "shopify", account: SHOP, stream: "customers" },
          batchId: "c1",
          dt: "2026-11-20",
          lines: Stream.make(customer("11", "ann@example.com"), customer("12", "kim@example.com"))
        })
        yield* w.load(
          "customers",
          ["11", "12"].map((id) => ({
            source: "shopify",
            source_account: SHOP,
            source_id: id,
            updated_at: "2026-11-20T00:00:00Z",
            _synced_at: "2026-11-20T00:00:00Z",
            _batch_id: "c1",
            email: id === "11" ? "ann@example.com" : "kim@example.com"
          }))
        )
      }).pipe(
        Effect.provide(
          Layer.mergeAll(
            DuckDbWarehouse.layer({ path }),
            RawLake.layer.pipe(Layer.provide(LocalObjectStore.layer(lakeDir)))
          )
        )
      )
    )
    const env = {
      PATH: process.env.PATH ?? "",
      HOME: dir,
      KURA_WAREHOUSE: `duckdb:${path}`,
      KURA_LAKE: `file:${lakeDir}`,
      KURA_STATE_DIR: join(dir, "state")
    }
    const cli = async (...args: Array<string>) => {
      try {
        const out = await promisify(execFile)(process.execPath, [main, ...args], { env, cwd: dir })
        return { code: 0, ...out }
      } catch (e) {
        const err = e as { code: number; stdout: string; stderr: string }
        return { code: err.code, stdout: err.stdout, stderr: err.stderr }
      }
    }
    const redacted = await cli("redact", "customer", "--account", SHOP, "--id", "11")
    expect(redacted.code).toBe(0)
    expect(redacted.stdout).toContain(
      `customer:shopify:${SHOP}:11: done; 1 row(s) (customers 1), 1 lake file(s)`
    )
    const list = JSON.parse((await cli("redact", "list", "--json")).stdout) as Array<{
      kind: string
      status: string
      trigger: string
      customerId: string
    }>
    expect(list.map((e) => [e.kind, e.status, e.trigger, e.customerId])).toEqual([
      ["customer", "done", "cli", "11"]
    ])
    expect((await cli("redact", "list")).stdout).toContain(`shopify/${SHOP} customer 11`)

    const refused = await cli("redact", "shop", "--account", SHOP)
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain("add --yes to confirm")
    const deleted = await cli("redact", "shop", "--account", SHOP, "--yes")
    expect(deleted.code).toBe(0)
    expect(deleted.stdout).toContain(`shop:shopify:${SHOP}: done; 2 row(s) (customers 2), 1 lake file(s)`)
    // Five kura-sync processes in a row (~1.9 CPU-s each; one took 8.8 s wall at load 19): 60 s timed
    // out at load 20-25 (session 9). The time is the machine's, not the redaction's.
  }, 300_000)
})
