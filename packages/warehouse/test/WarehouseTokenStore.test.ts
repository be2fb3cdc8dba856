/**
 * WarehouseTokenStore: a durable core TokenStore in `_kura_tokens` with compare-and-set on the
 * refresh token, optionally sealed with AES-256-GCM.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import type { TokenSet } from "@kura/core"
import { Effect, Option, Redacted } from "effect"
import { DuckDbWarehouse, Warehouse, WarehouseTokenStore } from "../src/index.js"

const CRED = "lightspeed:client-1:business-7"

const tokens = (access: string, refresh: string | null, issuedAt = 1): TokenSet => ({
  accessToken: Redacted.make(access),
  refreshToken: refresh === null ? null : Redacted.make(refresh),
  expiresAt: 3_600_000,
  refreshExpiresAt: null,
  issuedAt,
  scope: "orders-api items"
})

const plain = (t: Option.Option<TokenSet>) =>
  Option.map(t, (x) => ({
    access: Redacted.value(x.accessToken),
    refresh: x.refreshToken === null ? null : Redacted.value(x.refreshToken),
    issuedAt: x.issuedAt,
    scope: x.scope
  }))

const rawRows = (w: Warehouse["Service"]) =>
  w.query(`SELECT "key", sealed, refresh_fingerprint FROM "_kura_tokens" ORDER BY "key"`)

describe("WarehouseTokenStore", () => {
  it.effect(
    "round-trips a token set; compare-and-set lets only the holder of the current refresh token write",
    () =>
      Effect.gen(function* () {
        const w = yield* Warehouse
        const store = WarehouseTokenStore.make(w)
        assert.isTrue(Option.isNone(yield* store.get(CRED)))
        // First seeding with an expectation still writes (nothing stored yet), like the memory store.
        assert.isTrue(yield* store.put(CRED, tokens("a1", "r1"), { expectRefreshToken: null }))
        assert.deepStrictEqual(
          plain(yield* store.get(CRED)),
          Option.some({ access: "a1", refresh: "r1", issuedAt: 1, scope: "orders-api items" })
        )
        // Rotation with the current refresh token wins; a second rotation from the same token loses.
        assert.isTrue(yield* store.put(CRED, tokens("a2", "r2", 2), { expectRefreshToken: "r1" }))
        assert.isFalse(yield* store.put(CRED, tokens("a3", "r3", 3), { expectRefreshToken: "r1" }))
        assert.strictEqual(Option.getOrThrow(plain(yield* store.get(CRED))).refresh, "r2")
        // An unconditional put replaces whatever is there (seeding a new grant).
        assert.isTrue(yield* store.put(CRED, tokens("a4", null, 4)))
        assert.isFalse(yield* store.put(CRED, tokens("a5", "r5", 5), { expectRefreshToken: "r2" }))
        assert.isTrue(yield* store.put(CRED, tokens("a5", "r5", 5), { expectRefreshToken: null }))
        assert.strictEqual(Option.getOrThrow(plain(yield* store.get(CRED))).access, "a5")
      }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
  )

  it.live("two processes refreshing with one single-use token: exactly one stores its result", () =>
    Effect.gen(function* () {
      const w = yield* Warehouse
      yield* WarehouseTokenStore.make(w).put(CRED, tokens("a1", "r1"))
      for (let round = 0; round < 5; round++) {
        const current = Option.getOrThrow(plain(yield* WarehouseTokenStore.make(w).get(CRED))).refresh
        // Each "process" has its own store instance and its own new token set.
        const outcomes = yield* Effect.all(
          ["p1", "p2", "p3"].map((p) =>
            WarehouseTokenStore.make(w).put(CRED, tokens(`a-${p}-${round}`, `r-${p}-${round}`), {
              expectRefreshToken: current
            })
          ),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(outcomes.filter((x) => x).length, 1, `round ${round}: ${outcomes.join(",")}`)
        const winner = ["p1", "p2", "p3"][outcomes.indexOf(true)]
        assert.strictEqual(
          Option.getOrThrow(plain(yield* WarehouseTokenStore.make(w).get(CRED))).refresh,
          `r-${winner}-${round}`
        )
      }
    }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
  )

  it.effect("with an encryption key the table holds only ciphertext and fingerprints", () =>
    Effect.gen(function* () {
      const w = yield* Warehouse
      const key = Redacted.make("correct horse battery staple")
      const sealed = WarehouseTokenStore.make(w, { encryptionKey: key })
      assert.isTrue(yield* sealed.put(CRED, tokens("ACCESS-SECRET-1", "REFRESH-SECRET-1")))
      const [row] = yield* rawRows(w)
      const text = JSON.stringify(row)
      assert.notInclude(text, "SECRET")
      assert.match(String(row?.sealed), /^v1:gcm:/)
      assert.match(String(row?.refresh_fingerprint), /^[0-9a-f]{64}$/)
      assert.strictEqual(Option.getOrThrow(plain(yield* sealed.get(CRED))).refresh, "REFRESH-SECRET-1")
      assert.isTrue(
        yield* sealed.put(CRED, tokens("ACCESS-SECRET-2", "REFRESH-SECRET-2"), {
          expectRefreshToken: "REFRESH-SECRET-1"
        })
      )

      // Without the key, or with another key, reading fails with the fix and never the secret.
      const noKey = yield* Effect.flip(WarehouseTokenStore.make(w).get(CRED))
      assert.match(noKey.message, /KURA_TOKEN_ENCRYPTION_KEY/)
      const wrongKey = yield* Effect.flip(
        WarehouseTokenStore.make(w, { encryptionKey: Redacted.make("another key") }).get(CRED)
      )
      assert.match(wrongKey.message, /cannot decrypt the token record for lightspeed:client-1:business-7/)
      assert.notInclude(`${noKey.message}${wrongKey.message}`, "SECRET")
    }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
  )

  it.effect("tokens survive a restart (a DuckDB file reopened)", () =>
    Effect.acquireUseRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "kura-tokens-"))),
      (dir) =>
        Effect.gen(function* () {
          const layer = DuckDbWarehouse.layer({ path: join(dir, "kura.duckdb") })
          yield* Effect.provide(
            Effect.flatMap(Effect.service(Warehouse), (w) =>
              WarehouseTokenStore.make(w).put(CRED, tokens("a1", "r-rotated"))
            ),
            layer
          )
          const after = yield* Effect.provide(
            Effect.flatMap(Effect.service(Warehouse), (w) => WarehouseTokenStore.make(w).get(CRED)),
            layer
          )
          assert.strictEqual(Option.getOrThrow(plain(after)).refresh, "r-rotated")
        }),
      (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
    )
  )
})
