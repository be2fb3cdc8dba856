/**
 * A scriptable pass-through proxy in front of the emulator: per request, the test decides to
 * forward it, answer it itself (e.g. THROTTLED), or forward it and then lose the answer (the
 * server acted, the client never hears back).
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"

/** What to do with one request. */
export type ProxyAction =
  | { readonly _tag: "forward" }
  | { readonly _tag: "lose" }
  | { readonly _tag: "answer"; readonly status: number; readonly body: string }

/** A GraphQL THROTTLED answer (HTTP 200) with an empty bucket of `maximum` points. */
export const throttledAnswer = (maximum = 1000): ProxyAction => ({
  _tag: "answer",
  status: 200,
  body: JSON.stringify({
    errors: [{ message: "Throttled", extensions: { code: "THROTTLED" } }],
    extensions: {
      cost: {
        requestedQueryCost: 10,
        actualQueryCost: null,
        throttleStatus: { maximumAvailable: maximum, currentlyAvailable: 0, restoreRate: maximum }
      }
    }
  })
})

export const startProxy = async (
  target: string,
  decide: (body: string) => ProxyAction | Promise<ProxyAction>,
  onStatus?: (status: number) => void
) => {
  const server = http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const body = Buffer.concat(chunks)
      void Promise.resolve(decide(body.toString("utf8"))).then((action) => {
        if (action._tag === "answer") {
          res.writeHead(action.status, { "content-type": "application/json" })
          res.end(action.body)
          return
        }
        const headers = { ...req.headers, host: new URL(target).host }
        const upstream = http.request(
          `${target}${req.url ?? "/"}`,
          { method: req.method ?? "GET", headers },
          (up) => {
            if (action._tag === "lose") {
              up.resume()
              up.on("end", () => req.socket.destroy())
              return
            }
            onStatus?.(up.statusCode ?? 502)
            res.writeHead(up.statusCode ?? 502, up.headers)
            up.pipe(res)
          }
        )
        upstream.on("error", () => req.socket.destroy())
        upstream.end(body)
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

/** Posts a GraphQL document straight to the emulator (another "process" of the same app). */
export const postGraphql = async (
  baseUrl: string,
  token: string,
  query: string,
  variables: Record<string, unknown>
): Promise<unknown> => {
  const r = await fetch(`${baseUrl}/admin/api/2026-10/graphql.json`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-shopify-access-token": token },
    body: JSON.stringify({ query, variables })
  })
  return r.json()
}
