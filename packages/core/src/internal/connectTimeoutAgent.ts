/**
 * axios has a single `timeout` (whole response). A dead host should fail in seconds, a slow
 * export may take minutes, so the connect phase gets its own timer via the agent: the socket is
 * destroyed with code ECONNECTTIMEOUT if it has not connected in time.
 */

import * as http from "node:http"
import * as https from "node:https"
import type * as net from "node:net"
import type { Duplex } from "node:stream"

/** The error code used when the connect phase times out. */
export const CONNECT_TIMEOUT_CODE = "ECONNECTTIMEOUT"

const armConnectTimer = (socket: Duplex | net.Socket, timeoutMillis: number): void => {
  if (!("connecting" in socket) || !socket.connecting) return
  const timer = setTimeout(() => {
    const error = Object.assign(new Error(`connect timeout after ${timeoutMillis} ms`), {
      code: CONNECT_TIMEOUT_CODE
    })
    socket.destroy(error)
  }, timeoutMillis)
  timer.unref()
  const clear = () => clearTimeout(timer)
  socket.once("connect", clear)
  socket.once("close", clear)
  socket.once("error", clear)
}

/** Builds keep-alive http/https agents whose new sockets must connect within `timeoutMillis`. */
export const makeConnectTimeoutAgents = (
  timeoutMillis: number
): { readonly httpAgent: http.Agent; readonly httpsAgent: https.Agent } => {
  class HttpAgent extends http.Agent {
    override createConnection(
      options: net.NetConnectOpts,
      callback?: (err: Error | null, stream: Duplex) => void
    ): Duplex | null | undefined {
      const socket = super.createConnection(options, callback)
      if (socket) armConnectTimer(socket, timeoutMillis)
      return socket
    }
  }
  class HttpsAgent extends https.Agent {
    override createConnection(
      options: net.NetConnectOpts,
      callback?: (err: Error | null, stream: Duplex) => void
    ): Duplex | null | undefined {
      const socket = super.createConnection(options, callback)
      if (socket) armConnectTimer(socket, timeoutMillis)
      return socket
    }
  }
  return {
    httpAgent: new HttpAgent({ keepAlive: true }),
    httpsAgent: new HttpsAgent({ keepAlive: true })
  }
}
