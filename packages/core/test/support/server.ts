/**
 * A real node:http server on 127.0.0.1 (port 0) whose handler is a list of scripted replies, so
 * tests exercise the real socket path (timeouts, resets, chunked bodies) instead of mocks.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { Effect } from "effect"

/** What the server saw. */
export interface SeenRequest {
  readonly method: string
  readonly url: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

/** One scripted reply; the last one repeats. */
export type Reply =
  | { readonly status: number; readonly headers?: Record<string, string>; readonly body?: string }
  | { readonly destroy: true }
  | { readonly hang: true }
  | { readonly chunks: ReadonlyArray<string>; readonly status?: number; readonly delayMillis?: number }

export interface TestServer {
  readonly url: string
  readonly seen: Array<SeenRequest>
  /** Responses whose connection closed before the server finished writing them. */
  readonly abandoned: () => number
  readonly close: () => Promise<void>
}

/** Starts a server replying with `replies` in order (the last one repeats). */
export const startServer = (replies: ReadonlyArray<Reply> | ((req: SeenRequest, index: number) => Reply)) =>
  new Promise<TestServer>((resolve) => {
    const seen: Array<SeenRequest> = []
    let abandoned = 0
    const sockets = new Set<import("node:net").Socket>()
    const server = http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        const record: SeenRequest = {
          method: req.method ?? "",
          url: req.url ?? "",
          headers: req.headers,
          body: Buffer.concat(chunks).toString("utf8")
        }
        seen.push(record)
        const index = seen.length - 1
        const reply =
          typeof replies === "function"
            ? replies(record, index)
            : (replies[Math.min(index, replies.length - 1)] ?? { status: 200 })
        if ("destroy" in reply) {
          req.socket.destroy()
          return
        }
        if ("hang" in reply) return
        if ("chunks" in reply) {
          res.writeHead(reply.status ?? 200, { "content-type": "application/jsonl" })
          res.on("close", () => {
            if (!res.writableFinished) abandoned++
          })
          let i = 0
          const next = () => {
            if (res.destroyed) return
            const chunk = reply.chunks[i++]
            if (chunk === undefined) return void res.end()
            res.write(chunk)
            setTimeout(next, reply.delayMillis ?? 0)
          }
          next()
          return
        }
        res.writeHead(reply.status, { "content-type": "application/json", ...reply.headers })
        res.end(reply.body ?? "{}")
      })
    })
    server.on("connection", (s) => {
      sockets.add(s)
      s.on("close", () => sockets.delete(s))
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({
        url: `http://127.0.0.1:${port}`,
        seen,
        abandoned: () => abandoned,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy()
            server.close(() => done())
          })
      })
    })
  })

/** A scoped server for Effect tests. */
export const withServer = (replies: Parameters<typeof startServer>[0]) =>
  Effect.acquireRelease(
    Effect.promise(() => startServer(replies)),
    (server) => Effect.promise(() => server.close())
  )
