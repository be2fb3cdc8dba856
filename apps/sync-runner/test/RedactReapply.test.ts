/**
 * The end-of-pass re-application of the redaction ledger never fails a pass: a lake it cannot
 * read is logged, the entry is marked failed, and the next pass gives it a whole pass again.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import {
  DuckDbWarehouse,
  LocalObjectStore,
  makeRedaction,
  ObjectStore,
  ObjectStoreError,
  Warehouse
} from "@kura/warehouse"
import { Effect, Layer, Logger } from "effect"
import { describe, expect, it } from "vitest"
import { reapplyRedactions } from "../src/RedactReapply.js"

describe("reapplyRedactions", () => {
  it("logs a failure instead of failing the pass; the entry is marked failed and retried whole", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kura-reapply-"))
    const logs: Array<string> = []
    const capture = Logger.layer([Logger.make(({ message }) => void logs.push(String(message)))])
    try {
      const out = await Effect.runPromise(
        Effect.gen(function* () {
          const w = yield* Warehouse
          yield* w.migrate
          const good = LocalObjectStore.make(dir)
          yield* makeRedaction(w, good).redactCustomer({
            source: "shopify",
            sourceAccount: "s.myshopify.com",
            customerId: "7"
          })
          const broken = ObjectStore.of({
            ...good,
            list: (prefix) =>
              Effect.fail(
                new ObjectStoreError({
                  reason: "Io",
                  operation: "list",
                  path: prefix,
                  message: "bucket unreachable"
                })
              )
          })
          const failed = yield* reapplyRedactions.pipe(Effect.provideService(ObjectStore, broken))
          const [entry] = yield* makeRedaction(w, good).list
          const retried = yield* reapplyRedactions.pipe(Effect.provideService(ObjectStore, good))
          const [after] = yield* makeRedaction(w, good).list
          return { failed, entry, retried, after }
        }).pipe(Effect.provide(Layer.mergeAll(DuckDbWarehouse.layerMemory, capture)))
      )
      expect(out.failed).toEqual([])
      expect(
        logs.some((l) => l.includes("re-applying redactions failed") && l.includes("bucket unreachable"))
      ).toBe(true)
      expect([out.entry?.status, out.entry?.detail]).toEqual(["failed", "bucket unreachable"])
      expect(out.retried.map((o) => o.id)).toEqual(["customer:shopify:s.myshopify.com:7"])
      expect(out.after?.status).toBe("done")
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
