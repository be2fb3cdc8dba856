/**
 * The proof's sandbox in its OWN process, for benches that time `kura-sync` against emulators the
 * way production runs against Shopify, Lightspeed and Stocky: elsewhere, not on kura-sync's event
 * loop or in its CPU figure. `KURA_SANDBOX=1` runs the emulators inside kura-sync, where each bulk
 * job runs synchronously inside its start request and the emulator's rendering shares the process.
 *
 * Started by `startSandboxApart` (syncRun.ts) as `node scripts/proof/sandbox/serve.ts` with the same
 * environment a `KURA_SANDBOX=1` run gets (`KURA_SANDBOX_SEED`, `_SCALE`, `_HISTORY_DAYS`,
 * `_ANCHOR` and the `KURA_PROOF_SANDBOX_*` options wrap.ts reads: faults, mutation, report), so
 * the same seed and anchor serve the same data and `mutate` is applied at start as in-process.
 * Prints one `KURA_SANDBOX_ENV {json}` line: the SHOPIFY_* / LIGHTSPEED_* / STOCKY_* variables a
 * real deployment sets (the same mapping as apps/sync-runner/src/SandboxEnv.ts), pointing at the
 * counting proxies. On SIGTERM or SIGINT it closes (wrap.ts writes the report) and exits 0.
 *
 * While it runs, it answers commands on stdin (when the parent pipes it), one a line, each with an
 * id of the caller's choosing, answered by one `KURA_SANDBOX_ANSWER {"id":…}` line on stdout:
 * - `<id> mutate <fraction>`: `sandbox.mutate({ fraction })` now (what `KURA_PROOF_SANDBOX_MUTATE`
 *   does at start), answered with `mutated` (orders changed), so a bench that keeps one sandbox
 *   across passes (the warm `kura-sync serve` method) changes the data between them;
 * - `<id> tally`: the counting proxies' tally so far (`calls`, cumulative; wrap.ts `callTally`),
 *   so the bench diffs it per pass;
 * - `<id> truth`: the orders the warehouse must hold now (live online orders and POS sales, their
 *   gross in minor units, the currency; a hash of every live online order's id and version, and
 *   how many are cancelled), from the sandbox's ground truth (the soak's tie-out).
 * An unknown or failing command is answered with `error`.
 */
import { createHash } from "node:crypto"
import { createInterface } from "node:readline"
import { callTally, startSandbox } from "./wrap.ts"

/** The line prefix the parent reads the environment from. */
export const SANDBOX_ENV_MARKER = "KURA_SANDBOX_ENV "

const env = process.env
const int = (name: string): number | undefined => {
  const text = env[name]?.trim()
  if (text === undefined || text === "") return undefined
  const n = Number(text)
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name}="${text}" is not a positive integer`)
  return n
}
const anchorText = env.KURA_SANDBOX_ANCHOR?.trim()
const anchor = anchorText ? Date.parse(`${anchorText}T00:00:00Z`) : undefined
if (anchor !== undefined && Number.isNaN(anchor))
  throw new Error(`KURA_SANDBOX_ANCHOR="${anchorText}" is not a YYYY-MM-DD date`)

const seed = int("KURA_SANDBOX_SEED")
const scale = int("KURA_SANDBOX_SCALE")
const historyDays = int("KURA_SANDBOX_HISTORY_DAYS")
const sandbox = await startSandbox({
  ...(seed === undefined ? {} : { seed }),
  ...(scale === undefined ? {} : { scale }),
  ...(historyDays === undefined ? {} : { historyDays }),
  ...(anchor === undefined ? {} : { anchor })
})

let closing = false
const close = () => {
  if (closing) return
  closing = true
  sandbox.close().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(`sandbox close failed: ${e instanceof Error ? e.message : String(e)}`)
      process.exit(1)
    }
  )
}
process.on("SIGTERM", close)
process.on("SIGINT", close)
// An orphaned sandbox would hold its ports forever: stop when the parent is gone (re-parented).
const parent = process.ppid
setInterval(() => {
  if (process.ppid !== parent) close()
}, 1000).unref()

/** The line prefix of an answer to a stdin command. */
export const SANDBOX_ANSWER_MARKER = "KURA_SANDBOX_ANSWER "

const answer = (command: string): Record<string, unknown> => {
  const [verb, arg] = command.trim().split(/\s+/)
  if (verb === "mutate") {
    const fraction = Number(arg)
    if (!(fraction > 0 && fraction <= 1)) throw new Error(`mutate ${arg}: the fraction must be in (0, 1]`)
    return { mutated: sandbox.mutate({ fraction }).length }
  }
  if (verb === "tally") {
    const calls = callTally(sandbox)
    if (calls === undefined)
      throw new Error("no tally: the sandbox was started without KURA_PROOF_SANDBOX_REPORT")
    return { calls }
  }
  if (verb === "truth") {
    // What the warehouse must hold of the orders now: live orders and their gross, per channel,
    // in minor units of the shop's currency (as the demo ties them).
    const truth = sandbox.groundTruth()
    const gross = (channel: "online" | "pos") =>
      truth.revenueByDay.filter((d) => d.channel === channel).reduce((n, d) => n + d.gross, 0)
    // Each live online order's version (id and updatedAt to the second, as the warehouse stores
    // it), sorted as text and hashed: a missed update, cancel or refund shows where no total moves.
    const versions: Array<string> = []
    let cancelled = 0
    for (let i = 0; i < sandbox.merchant.orderCount; i++) {
      const o = sandbox.merchant.orderAt(i)
      if (o === undefined || o.channel !== "online" || o.deletedAt !== null) continue
      versions.push(`${o.id}:${Math.floor(o.updatedAt / 1000)}`)
      if (o.cancelledAt !== null) cancelled++
    }
    versions.sort()
    return {
      onlineVersions: createHash("sha256").update(versions.join("\n")).digest("hex"),
      onlineCancelled: cancelled,
      onlineOrders: truth.counts.onlineOrders,
      posSales: truth.counts.posSales,
      customers: truth.counts.customers,
      grossMinor: { online: gross("online"), pos: gross("pos") },
      currency: sandbox.merchant.options.tax === "eu" ? "EUR" : "JPY"
    }
  }
  throw new Error(`unknown command "${command.trim()}" (mutate <fraction> | tally | truth)`)
}
createInterface({ input: process.stdin }).on("line", (line) => {
  const text = line.trim()
  if (text === "") return
  const space = text.indexOf(" ")
  const id = space < 0 ? text : text.slice(0, space)
  let reply: Record<string, unknown>
  try {
    reply = { id, ...answer(space < 0 ? "" : text.slice(space + 1)) }
  } catch (e) {
    reply = { id, error: e instanceof Error ? e.message : String(e) }
  }
  process.stdout.write(`${SANDBOX_ANSWER_MARKER}${JSON.stringify(reply)}\n`)
})

const { shopify, lightspeed, stocky } = sandbox
const deployment: Record<string, string> = {
  SHOPIFY_SHOP: shopify.credentials.shopDomain,
  SHOPIFY_ACCESS_TOKEN: shopify.credentials.accessToken,
  SHOPIFY_API_BASE_URL: shopify.baseUrl,
  SHOPIFY_API_VERSION: shopify.credentials.apiVersion,
  SHOPIFY_WEBHOOK_SECRET: shopify.credentials.webhookSecret,
  LIGHTSPEED_CLIENT_ID: lightspeed.credentials.clientId,
  LIGHTSPEED_CLIENT_SECRET: lightspeed.credentials.clientSecret,
  LIGHTSPEED_REFRESH_TOKEN: lightspeed.credentials.refreshToken,
  LIGHTSPEED_API_BASE_URL: lightspeed.baseUrl,
  LIGHTSPEED_TOKEN_URL: lightspeed.credentials.tokenUrl,
  LIGHTSPEED_BUSINESS_LOCATIONS: lightspeed.credentials.businessLocationIds.join(","),
  STOCKY_STORE_NAME: stocky.credentials.storeName,
  STOCKY_API_KEY: stocky.credentials.apiKey,
  STOCKY_API_BASE_URL: `${stocky.baseUrl}/api/v2`
}
process.stdout.write(`${SANDBOX_ENV_MARKER}${JSON.stringify(deployment)}\n`)
