import { createHmac } from "node:crypto"
import { CheckpointStore } from "@kura/core"
import { Context, Effect, Layer, Logger, Option } from "effect"
import { startHttpService } from "../../src/HttpService.js"
import { LeaseManager } from "../../src/LeaseManager.js"
import { Metrics } from "../../src/Metrics.js"
import { RunLedger } from "../../src/RunLedger.js"
import { StreamRunner } from "../../src/StreamRunner.js"
import { TriggerAuth } from "../../src/TriggerAuth.js"
import { WebhookIntake } from "../../src/WebhookIntake.js"
import { IntakeThread, type IntakeThreadOptions } from "../../src/webhooks/IntakeThread.js"
import {
  type BatcherStats,
  WebhookBatcher,
  type WebhookBatcherOptions
} from "../../src/webhooks/WebhookBatcher.js"
import type { WebhookBatchSink } from "../../src/webhooks/WebhookBatchSink.js"

export const SHOP = "kura-matcha.myshopify.com"
export const SECRET = "whsec-batched-0123456789"

/** Signs a body the way Shopify does. */
export const sign = (body: string, secret = SECRET) =>
  createHmac("sha256", secret).update(body).digest("base64")

/** Shopify-style delivery headers. */
export const deliveryHeaders = (body: string, eventId: string, topic = "orders/create", shop = SHOP) => ({
  "content-type": "application/json",
  "x-shopify-topic": topic,
  "x-shopify-shop-domain": shop,
  "x-shopify-api-version": "2026-01",
  "x-shopify-webhook-id": `wh-${eventId}`,
  "x-shopify-event-id": eventId,
  "x-shopify-triggered-at": "2026-11-26T10:00:00Z",
  "x-shopify-hmac-sha256": sign(body)
})

/** POSTs one signed delivery. */
export const deliver = async (url: string, body: string, eventId: string, topic?: string) => {
  const res = await fetch(`${url}/webhooks/shopify`, {
    method: "POST",
    headers: deliveryHeaders(body, eventId, topic),
    body
  })
  return {
    status: res.status,
    retryAfter: res.headers.get("retry-after"),
    body: (await res.json()) as { message: string }
  }
}

/** Polls until `check` holds. */
export const eventually = async (check: () => boolean | Promise<boolean>, ms = 10_000) => {
  const until = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > until) throw new Error("condition not met in time")
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** The stats of whichever batcher the harness runs (and, threaded, a way to kill its thread). */
class StatsOf extends Context.Service<
  StatsOf,
  {
    readonly stats: Effect.Effect<BatcherStats & { readonly restarts?: number; readonly adopted?: number }>
    readonly kill?: Effect.Effect<void>
    readonly crash?: (message: string) => Effect.Effect<void>
  }
>()("test/StatsOf") {}

/**
 * Runs `f` against a real HTTP service whose webhook path is the batching intake over `sink`.
 * Closing (after `f`) drains the batcher, as SIGTERM does.
 */
export const withBatchedServer = <E>(
  options: {
    readonly batcher: WebhookBatcherOptions
    readonly sink: Layer.Layer<WebhookBatchSink, E>
    /** Run the intake on its own thread (the `serve` default) instead of the main thread. */
    readonly threaded?: boolean
    /** Options of the intake thread beyond the batcher's (threaded only). */
    readonly thread?: Partial<Omit<IntakeThreadOptions, keyof WebhookBatcherOptions>>
  },
  f: (server: {
    readonly url: string
    readonly stats: Effect.Effect<BatcherStats & { readonly restarts?: number; readonly adopted?: number }>
    /** Terminates the intake thread as a crash would (threaded only). */
    readonly kill?: Effect.Effect<void>
    /** Makes the intake thread throw `message` uncaught (threaded only). */
    readonly crash?: (message: string) => Effect.Effect<void>
  }) => Promise<void>
): Promise<void> => {
  const intake: Layer.Layer<WebhookIntake | StatsOf, never, Metrics | WebhookBatchSink> =
    options.threaded === true
      ? Layer.effect(
          StatsOf,
          Effect.map(Effect.service(IntakeThread), (t) => ({
            stats: t.stats,
            kill: t.killThread,
            crash: t.crashThread
          }))
        ).pipe(
          Layer.provideMerge(
            IntakeThread.layer({ ...options.thread, ...options.batcher, secrets: { [SHOP]: [SECRET] } })
          )
        )
      : Layer.effect(
          StatsOf,
          Effect.map(Effect.service(WebhookBatcher), (b) => ({ stats: b.stats }))
        ).pipe(
          Layer.provideMerge(
            WebhookIntake.layerBatched({ secretsFor: (shop) => (shop === SHOP ? [SECRET] : []) }).pipe(
              Layer.provideMerge(WebhookBatcher.layer(options.batcher))
            )
          )
        )
  const services = intake.pipe(
    Layer.provide(options.sink),
    Layer.merge(TriggerAuth.layer({ secret: Option.none(), audience: Option.none(), allowedEmails: [] })),
    Layer.provideMerge(StreamRunner.layer([], 5_000)),
    Layer.provideMerge(
      Layer.mergeAll(
        CheckpointStore.layerMemory,
        RunLedger.layerMemory(),
        LeaseManager.layerMemory,
        Metrics.layer
      )
    )
  )
  return Effect.runPromise(
    Effect.gen(function* () {
      const server = yield* startHttpService({ port: 0, host: "127.0.0.1" })
      const { stats, kill, crash } = yield* StatsOf
      yield* Effect.promise(() =>
        f({
          url: server.url,
          stats,
          ...(kill === undefined ? {} : { kill }),
          ...(crash === undefined ? {} : { crash })
        })
      )
    }).pipe(
      Effect.scoped,
      Effect.provide(services),
      Effect.provide(process.env.KURA_TEST_LOGS === "1" ? Layer.empty : Logger.layer([]))
    )
  )
}
