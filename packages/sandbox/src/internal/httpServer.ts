/**
 * Small node:http plumbing shared by the Lightspeed and Stocky emulators: listen on 127.0.0.1,
 * read bodies, close with every keep-alive connection.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

/** Reads a request body as UTF-8 (bodies here are small forms and JSON; capped at 1 MiB). */
export const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    let size = 0
    req.on("data", (c: Buffer) => {
      size += c.length
      if (size > 1_048_576) {
        reject(new Error("request body over 1 MiB"))
        req.destroy()
        return
      }
      chunks.push(c)
    })
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    req.on("error", reject)
  })

/** A started server with its base URL. */
export interface Listening {
  readonly server: Server
  readonly baseUrl: string
  close(): Promise<void>
}

/**
 * Starts a server on 127.0.0.1 (never on all interfaces). A handler that throws answers 500 so
 * a bug in the sandbox is visible instead of hanging the client.
 */
export const listen = async (
  port: number,
  handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>
): Promise<Listening> => {
  const server = createServer((req, res) => {
    handler(req, res).catch((error: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { "content-type": "application/json" })
        res.end(JSON.stringify({ error: "sandbox internal error", detail: String(error) }))
      } else res.destroy()
    })
  })
  server.keepAliveTimeout = 5_000
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  return {
    server,
    baseUrl: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
  }
}
