/**
 * The emulator's own Shopify bulk export of the orders resource (the client's bulk query), for
 * tests that need real bulk JSONL: interleaved Order, LineItem, ShippingLine and refund lines.
 */
import { Resources } from "@kura/shopify-client"

/** Runs the orders bulk query on the emulator and returns the result file's text. */
export const bulkExport = async (baseUrl: string, token: string): Promise<string> => {
  const url = `${baseUrl}/admin/api/2026-01/graphql.json`
  const gql = async (query: string, variables: Record<string, unknown> = {}) => {
    const r = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "x-shopify-access-token": token },
      body: JSON.stringify({ query, variables })
    })
    return (await r.json()) as { data: Record<string, { status: string; url: string | null } | null> }
  }
  await gql(
    "mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id } userErrors { message } } }",
    { q: Resources.orders.documents.bulk(null) }
  )
  for (;;) {
    const op = (await gql("{ currentBulkOperation { status url } }")).data.currentBulkOperation
    if (op?.status === "COMPLETED" && op.url !== null) return (await fetch(op.url)).text()
    if (op?.status === "FAILED" || op?.status === "CANCELED") throw new Error(`bulk ${op.status}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
