/**
 * Check 3, bad records (per client, into core's DeadLetterSink, until the source streams land):
 * the sandbox renders `malformedPerSource` records per source with one wrongly typed field. Each
 * must reach the dead-letter sink with a reason, exactly as many as injected, and the good
 * records must all load (compared with the sandbox's ground truth, which excludes the bad ones).
 * The letters are written through the DuckDB warehouse's sink and read back from
 * `_kura_dead_letters`.
 */
import path from "node:path"
import { DuckDbWarehouse, Warehouse } from "@kura/warehouse"
import { Effect, ManagedRuntime } from "effect"
import { proofSandbox, pullAll } from "../clients.ts"
import { quick, registerSecrets, runCheck, workDir } from "../lib.ts"

const CHECK = "bad-records"

await runCheck(CHECK, async () => {
  const malformed = quick ? 3 : 10
  const sandbox = await proofSandbox({
    scale: quick ? 300 : 2000,
    faults: "none",
    malformedPerSource: malformed
  })
  registerSecrets(CHECK, [
    sandbox.shopify.credentials.accessToken,
    sandbox.lightspeed.credentials.clientSecret,
    sandbox.lightspeed.credentials.refreshToken,
    sandbox.stocky.credentials.apiKey
  ])
  const warehouse = ManagedRuntime.make(
    DuckDbWarehouse.layer({ path: path.join(workDir(CHECK), "dl.duckdb") })
  )
  try {
    const wh = await warehouse.runPromise(Effect.service(Warehouse))
    const pulled = await pullAll(sandbox, ["stocky", "lightspeed", "shopify"], wh.deadLetters)
    const stored = await warehouse.runPromise(wh.listDeadLetters())
    const truth = sandbox.groundTruth()
    const injected = truth.counts.malformed
    const lettersOf = (source: string) => stored.filter((d) => d.key.source === source)
    const withReason = stored.every((d) => d.reason.length > 0 && d.detail.length > 0)
    const loaded = (t: string) => pulled.tables.get(t)?.length ?? 0
    const lightspeedSales = pulled.tables.get("lightspeed.sales") ?? []
    const posSales = lightspeedSales.filter((s) => (s as { type?: string }).type !== "REFUND").length
    const perSource = {
      stocky: {
        injected: injected.stocky,
        deadLettered: lettersOf("stocky").length,
        loaded: loaded("stocky.purchase_orders"),
        expectedLoaded: truth.counts.purchaseOrders
      },
      lightspeed: {
        injected: injected.lightspeed,
        deadLettered: lettersOf("lightspeed").length,
        loaded: posSales,
        expectedLoaded: truth.counts.posSales
      },
      shopify: {
        injected: injected.shopify,
        deadLettered: lettersOf("shopify").length,
        loaded: loaded("shopify.orders"),
        expectedLoaded: truth.counts.onlineOrders
      }
    }
    const ok = Object.values(perSource).every(
      (s) => s.injected > 0 && s.deadLettered === s.injected && s.loaded === s.expectedLoaded
    )
    const figure = Object.entries(perSource)
      .map(
        ([k, s]) =>
          `${k} ${s.deadLettered}/${s.injected} in _kura_dead_letters, ${s.loaded}/${s.expectedLoaded} loaded`
      )
      .join("; ")
    return {
      check: CHECK,
      pass: ok && withReason,
      figure,
      details: {
        perSource,
        inMemory: pulled.deadLetters.length,
        letters: stored.map((d) => ({
          key: d.key,
          reason: d.reason,
          detail: d.detail,
          origin: d.origin
        }))
      }
    }
  } finally {
    await warehouse.dispose()
    await sandbox.close()
  }
})
