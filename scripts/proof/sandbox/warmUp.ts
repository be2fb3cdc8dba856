/**
 * Warms a freshly started sandbox's request paths before a bench times anything against it.
 *
 * Why: the incremental bench starts one sandbox process per timed pass (so every pass sees the same
 * data and the same change), and an emulator's first requests run cold: the Shopify emulator's
 * first GraphQL request took 225 ms against 17–23 ms for the next (graphql-js resolves the schema's
 * types on first use, V8 compiles the handlers), its first count 100 ms against 40. A pass's first
 * eight Shopify and five Stocky requests all waited on that, ≈ 0.2 s of a ≈ 2 s pass, a cost of the
 * emulator's process start that Shopify's and Stocky's always-running servers never charge.
 *
 * Only reads, sent to the emulators directly (never through the bench's counting proxies, so no
 * figure counts them), none of which changes the merchant's data: a cheap GraphQL read (≈ 10 of the
 * bucket's 2,000 points, back within 0.1 s at the Standard restore rate), Stocky reads, and
 * Lightspeed requests that are refused (no token; a refresh token that is not the merchant's), so
 * the account's real refresh token is never rotated.
 */
import type { Sandbox } from "../../../packages/sandbox/dist/index.js"

/** Rounds of requests: V8 optimises a handler after a few calls, not the first. */
const ROUNDS = 3

const FAR_FUTURE = "2999-01-01T00:00:00Z"

const SHOPIFY_QUERY = `{
  shop { name ianaTimezone currencyCode }
  locations(first: 1) { edges { node { id name } } }
  ordersCount(query: "updated_at:>'${FAR_FUTURE}'") { count precision }
  orders(first: 1, query: "updated_at:>'${FAR_FUTURE}'") { edges { node { id updatedAt } } }
  events(first: 1, query: "created_at:>'${FAR_FUTURE}'") { edges { node { id } } }
}`

const STOCKY_PATHS = ["/api/v2/tax_types.json?limit=1", "/api/v2/suppliers.json?limit=1"]

const drain = async (response: Promise<Response>): Promise<void> => {
  try {
    await (await response).arrayBuffer()
  } catch {
    // A warm-up request that fails costs the bench nothing but the warm-up.
  }
}

/** Sends each emulator a few rounds of read-only requests; resolves when they are answered. */
export const warmUp = async (sandbox: Sandbox): Promise<void> => {
  const shopify = sandbox.shopify
  const stocky = sandbox.stocky
  const lightspeed = sandbox.lightspeed
  for (let round = 0; round < ROUNDS; round++) {
    await Promise.all([
      drain(
        fetch(`${shopify.baseUrl}/admin/api/${shopify.credentials.apiVersion}/graphql.json`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "x-shopify-access-token": shopify.credentials.accessToken
          },
          body: JSON.stringify({ query: SHOPIFY_QUERY })
        })
      ),
      ...STOCKY_PATHS.map((p) =>
        drain(
          fetch(`${stocky.baseUrl}${p}`, {
            headers: {
              "Store-Name": stocky.credentials.storeName,
              Authorization: `API KEY=${stocky.credentials.apiKey}`
            }
          })
        )
      ),
      drain(
        fetch(lightspeed.credentials.tokenUrl, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: "warm-up-not-a-token" })
        })
      ),
      drain(fetch(`${lightspeed.baseUrl}/f/data/businesses?page=0&size=1`))
    ])
  }
}
