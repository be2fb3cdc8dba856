import { Effect, Redacted } from "effect"
import { StockyClient, type StockyClientOptions } from "../../src/index.js"
import { type ServerOptions, startStockyServer, type TestStockyServer } from "./stockyServer.js"

/**
 * Runs `body` against a fresh test Stocky server with a client pointed at it (store zone
 * Asia/Tokyo unless `clientOptions` says otherwise); the server is closed afterwards.
 */
export const withServer = <A, E>(
  options: ServerOptions,
  body: (server: TestStockyServer) => Effect.Effect<A, E, StockyClient>,
  clientOptions: Partial<StockyClientOptions> = {}
) =>
  Effect.acquireUseRelease(
    Effect.promise(() => startStockyServer(options)),
    (server) =>
      body(server).pipe(
        Effect.provide(
          StockyClient.layerTest({
            baseUrl: server.baseUrl,
            storeName: server.storeName,
            apiKey: Redacted.make(server.apiKey),
            timeZone: "Asia/Tokyo",
            ...clientOptions
          })
        )
      ),
    (server) => Effect.promise(() => server.close())
  )
