/**
 * Check 6b, intake kill: a real `kura-sync serve` (threaded intake, the default) has its webhook
 * intake thread killed several times while signed deliveries arrive. The senders behave as
 * Shopify does: a delivery not answered 2xx (connection refused or reset, 503) is sent again. Every
 * accepted delivery must land exactly once: one lake record, one `_kura_raw` row and one canonical
 * order per delivery, none twice; `/status.json` must count the restarts. The kill is the same
 * termination a crash is (`KURA_FAULT_KILL_INTAKE_ON_SIGUSR2=1`: SIGUSR2 terminates the thread).
 */
import path from "node:path"
import { startSandbox } from "@kura/sandbox"
import { duplicates, lakeRecords, quick, runCheck, shopifyHmac, waitFor, workDir } from "../lib.ts"
import { queryDb, startShopifyServe } from "../webhookServe.ts"

const CHECK = "intake-kill"
const DELIVERIES = quick ? 400 : 3_000
const KILLS = quick ? 2 : 6
const SENDERS = 16

interface IntakeStatus {
  readonly restarts: number
  readonly pending: number
  readonly lastRestartAt: string | null
  readonly lastError: string | null
  readonly adopted: number
}

await runCheck(CHECK, async () => {
  const dir = workDir(CHECK)
  const sandbox = await startSandbox({ seed: 7, scale: 5, historyDays: 2 })
  const { serve, shop, webhookSecret, triggerSecret } = await startShopifyServe(CHECK, dir, sandbox.shopify, {
    // Small batches landing often, so a kill finds sealed segments waiting and an open one.
    KURA_WEBHOOK_FLUSH_MS: "150",
    KURA_FAULT_KILL_INTAKE_ON_SIGUSR2: "1"
  })
  let stopped = false
  try {
    const intake = async (): Promise<IntakeStatus | undefined> => {
      const res = await fetch(`${serve.url}/status.json`, {
        headers: { authorization: `Bearer ${triggerSecret}` }
      })
      return res.ok ? ((await res.json()) as { webhookIntake?: IntakeStatus }).webhookIntake : undefined
    }
    const money = (amount: string) => ({
      shop_money: { amount, currency_code: "JPY" },
      presentment_money: { amount, currency_code: "JPY" }
    })
    const bodyOf = (i: number) =>
      JSON.stringify({
        id: 700_000 + i,
        name: `#K${i}`,
        created_at: "2026-11-26T01:00:00Z",
        updated_at: "2026-11-26T01:00:00Z",
        currency: "JPY",
        total_price: "1100",
        total_price_set: money("1100"),
        line_items: [
          {
            id: 7_000_000 + i,
            sku: "MATCHA-30G",
            title: "Matcha",
            quantity: 1,
            price_set: money("1100"),
            tax_lines: []
          }
        ]
      })
    const accepted = new Set<string>()
    let attempts = 0
    let refused = 0
    const send = async (i: number) => {
      const body = bodyOf(i)
      const eventId = `kill-${i}`
      const headers = {
        "content-type": "application/json",
        "x-shopify-shop-domain": shop,
        "x-shopify-topic": "orders/create",
        "x-shopify-api-version": "2026-01",
        "x-shopify-webhook-id": `wh-${eventId}`,
        "x-shopify-event-id": eventId,
        "x-shopify-hmac-sha256": await shopifyHmac(webhookSecret, body)
      }
      for (let attempt = 0; attempt < 400; attempt++) {
        attempts++
        const status = await fetch(`${serve.url}/webhooks/shopify`, { method: "POST", body, headers })
          .then(async (r) => {
            await r.arrayBuffer()
            return r.status
          })
          .catch(() => 0)
        if (status >= 200 && status < 300) return void accepted.add(eventId)
        refused++
        await new Promise((r) => setTimeout(r, 25))
      }
      throw new Error(`delivery ${eventId} was never accepted`)
    }

    // Kill the thread at evenly spaced points of the run, each after the previous restart.
    let next = 0
    let kills = 0
    const killAt = Array.from({ length: KILLS }, (_, k) => Math.floor(((k + 1) * DELIVERIES) / (KILLS + 1)))
    const killer = (async () => {
      for (const at of killAt) {
        await waitFor(async () => accepted.size >= at, 120_000, `${at} accepted deliveries`)
        serve.captured.child.kill("SIGUSR2")
        kills++
        await waitFor(async () => (await intake())?.restarts === kills, 60_000, `restart ${kills}`)
      }
    })()
    await Promise.all([
      killer,
      ...Array.from({ length: SENDERS }, async () => {
        while (next < DELIVERIES) await send(next++)
      })
    ])
    await waitFor(async () => (await intake())?.pending === 0, 60_000, "every accepted delivery landed")
    const status = await intake()
    await serve.stop()
    stopped = true

    const lake = (await lakeRecords(serve.lakeDir))
      .filter((r) => !r.file.includes("_state"))
      .map((r) => (JSON.parse(r.line) as { event_id: string }).event_id)
    const db = path.join(dir, "kura.duckdb")
    const raw = (
      await queryDb(db, "SELECT source_id FROM _kura_raw WHERE stream = 'webhook.orders_create'")
    ).map((r) => String(r.source_id))
    const orders = (await queryDb(db, "SELECT source_id FROM orders WHERE source_id LIKE '7%'")).map((r) =>
      String(r.source_id)
    )
    const lakeDup = duplicates(lake)
    const missingLake = [...accepted].filter((e) => !lake.includes(e))
    const missingRaw = [...accepted].filter((e) => !raw.includes(e))
    const exactlyOnce =
      accepted.size === DELIVERIES &&
      lake.length === DELIVERIES &&
      lakeDup.length === 0 &&
      missingLake.length === 0 &&
      raw.length === DELIVERIES &&
      missingRaw.length === 0 &&
      new Set(orders).size === DELIVERIES &&
      orders.length === DELIVERIES
    const restartsOk = status?.restarts === KILLS && status.lastRestartAt !== null
    const figure =
      `${DELIVERIES} deliveries, ${kills} kills, ${status?.restarts ?? "?"} restarts; ` +
      `accepted ${accepted.size}, landed ${lake.length} (lake) / ${raw.length} (_kura_raw) / ${orders.length} orders, ` +
      `${lakeDup.length} duplicates, ${missingLake.length + missingRaw.length} missing; ` +
      `${refused} refused attempts retried (${attempts} sent), ${status?.adopted ?? "?"} adopted from dead threads`
    return {
      check: CHECK,
      pass: exactlyOnce && restartsOk,
      figure,
      details: {
        status,
        lakeDuplicates: lakeDup.slice(0, 20),
        missingLake: missingLake.slice(0, 20),
        missingRaw: missingRaw.slice(0, 20)
      }
    }
  } finally {
    if (!stopped) await serve.stop()
    await sandbox.close()
  }
})
