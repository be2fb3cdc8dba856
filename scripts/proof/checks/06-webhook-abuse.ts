/**
 * Check 6, webhook abuse: against a real `kura-sync serve`, a bad HMAC, a missing HMAC, a replay of
 * the same X-Shopify-Event-Id, an oversized body and a wrong content type are each refused with the
 * documented status (401 / 200-dedup / 413 / 415), and only the one genuine delivery is stored: in
 * the raw lake, in `_kura_raw` and as one canonical order (shop facts come from a sandbox Shopify).
 */
import path from "node:path"
import { startSandbox } from "@kura/sandbox"
import { lakeRecords, runCheck, shopifyHmac, waitFor, workDir } from "../lib.ts"
import { queryDb, startShopifyServe } from "../webhookServe.ts"

/** Lake records, without the write-ahead segments kept under the state directory. */
const landed = async (lakeDir: string) =>
  (await lakeRecords(lakeDir)).filter((r) => !r.file.includes("_state"))

const CHECK = "webhook-abuse"

await runCheck(CHECK, async () => {
  const dir = workDir(CHECK)
  const sandbox = await startSandbox({ seed: 6, scale: 5, historyDays: 2 })
  const { serve, shop, webhookSecret } = await startShopifyServe(CHECK, dir, sandbox.shopify)
  try {
    const post = async (body: string, headers: Record<string, string>) => {
      const res = await fetch(`${serve.url}/webhooks/shopify`, { method: "POST", body, headers })
      return { status: res.status, text: await res.text() }
    }
    const base = (eventId: string) => ({
      "content-type": "application/json",
      "x-shopify-shop-domain": shop,
      "x-shopify-topic": "orders/create",
      "x-shopify-api-version": "2026-01",
      "x-shopify-webhook-id": `wh-${eventId}`,
      "x-shopify-event-id": eventId
    })
    const money = (amount: string) => ({
      shop_money: { amount, currency_code: "JPY" },
      presentment_money: { amount, currency_code: "JPY" }
    })
    const genuine = JSON.stringify({
      id: 1001,
      name: "#1001",
      created_at: "2026-11-26T01:00:00Z",
      updated_at: "2026-11-26T01:00:00Z",
      currency: "JPY",
      total_price: "1100",
      total_price_set: money("1100"),
      line_items: [
        {
          id: 10011,
          sku: "MATCHA-30G",
          title: "Matcha",
          quantity: 1,
          price_set: money("1100"),
          tax_lines: []
        }
      ]
    })
    const cases: Array<{ name: string; expect: number; got: number; body?: string }> = []
    const run = async (name: string, expect: number, body: string, headers: Record<string, string>) => {
      const r = await post(body, headers)
      cases.push({ name, expect, got: r.status, body: r.text.slice(0, 120) })
    }

    await run("bad HMAC", 401, genuine, {
      ...base("evt-bad"),
      "x-shopify-hmac-sha256": await shopifyHmac("not-the-secret", genuine)
    })
    await run("missing HMAC", 401, genuine, base("evt-missing"))
    const tampered = genuine.replace("1100", "1")
    await run("body tampered after signing", 401, tampered, {
      ...base("evt-tampered"),
      "x-shopify-hmac-sha256": await shopifyHmac(webhookSecret, genuine)
    })
    await run("genuine delivery", 200, genuine, {
      ...base("evt-1"),
      "x-shopify-hmac-sha256": await shopifyHmac(webhookSecret, genuine)
    })
    await run("replay (same event id)", 200, genuine, {
      ...base("evt-1"),
      "x-shopify-hmac-sha256": await shopifyHmac(webhookSecret, genuine)
    })
    const big = JSON.stringify({ id: 1002, pad: "x".repeat(1_100_000) })
    await run("oversized body (1.1 MB, signed)", 413, big, {
      ...base("evt-big"),
      "x-shopify-hmac-sha256": await shopifyHmac(webhookSecret, big)
    })
    await run("wrong content type (signed)", 415, genuine, {
      ...base("evt-type"),
      "content-type": "text/plain",
      "x-shopify-hmac-sha256": await shopifyHmac(webhookSecret, genuine)
    })
    await run("form content type (signed)", 415, genuine, {
      ...base("evt-form"),
      "content-type": "application/x-www-form-urlencoded",
      "x-shopify-hmac-sha256": await shopifyHmac(webhookSecret, genuine)
    })
    const replayOk = cases.find((c) => c.name.startsWith("replay"))?.body?.includes("duplicate") ?? false

    // Deliveries land asynchronously: wait for the genuine one, then give any wrongly accepted one time to appear.
    await waitFor(
      async () => (await landed(serve.lakeDir)).length >= 1,
      15_000,
      "the genuine delivery in the lake"
    )
    await new Promise((r) => setTimeout(r, 1500))
    const stored = await landed(serve.lakeDir)
    const storedEvents = stored.map((s) => (JSON.parse(s.line) as { event_id: string }).event_id)
    await serve.stop()
    const db = path.join(dir, "kura.duckdb")
    const raw = (await queryDb(db, "SELECT source_id FROM _kura_raw WHERE stream LIKE 'webhook.%'")).map(
      (r) => String(r.source_id)
    )
    const orders = (await queryDb(db, "SELECT source_id FROM orders")).map((r) => String(r.source_id))
    const statusOk = cases.every((c) => c.expect === c.got)
    const storedOk =
      storedEvents.length === 1 &&
      storedEvents[0] === "evt-1" &&
      raw.length === 1 &&
      raw[0] === "evt-1" &&
      orders.length === 1 &&
      orders[0] === "1001"
    const figure = `${cases.filter((c) => c.expect === c.got).length}/${cases.length} answered as documented (${cases
      .map((c) => c.got)
      .join(
        "/"
      )}); stored ${storedEvents.length} of 1 genuine (lake), ${raw.length} in _kura_raw, ${orders.length} canonical order`
    return {
      check: CHECK,
      pass: statusOk && storedOk && replayOk,
      figure,
      details: { cases, storedEvents, raw, orders, replayAnsweredDuplicate: replayOk }
    }
  } finally {
    await serve.stop()
    await sandbox.close()
  }
})
