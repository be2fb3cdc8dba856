/**
 * Webhook subscriptions and deliveries: REST-shaped JSON bodies signed with HMAC-SHA256 (base64,
 * keyed with the app secret), Shopify's header set, a 5 s timeout, and retries on Shopify's
 * schedule (8 retries over ~4 h, scaled). A subscription whose deliveries all fail is removed,
 * as Shopify does for subscriptions created through the Admin API.
 */
import { createHmac, randomUUID } from "node:crypto"
import { gid, isoUtc, parseGid } from "./format.js"
import type { ShopifyState } from "./ShopifyState.js"
import { bump } from "./ShopifyState.js"

/** A registered subscription. */
export interface Subscription {
  readonly id: number
  /** GraphQL enum form, e.g. ORDERS_CREATE. */
  readonly topic: string
  uri: string
  readonly createdAt: number
  updatedAt: number
  readonly apiVersion: string
}

/** A delivery as the receiver saw it (kept for tests and stats). */
export interface DeliveryRecord {
  readonly topic: string
  readonly uri: string
  readonly webhookId: string
  readonly eventId: string
  readonly attempt: number
  readonly status: number | "error"
}

/** "orders/create" → "ORDERS_CREATE". */
export const topicEnum = (topic: string): string => topic.replace("/", "_").toUpperCase()

/** "ORDERS_CREATE" → "orders/create". */
export const topicPath = (topic: string): string => {
  const lower = topic.toLowerCase()
  const prefixes = [
    "bulk_operations",
    "inventory_levels",
    "inventory_items",
    "orders",
    "refunds",
    "products",
    "customers"
  ]
  const prefix = prefixes.find((p) => lower.startsWith(`${p}_`))
  return prefix === undefined ? lower.replace("_", "/") : `${prefix}/${lower.slice(prefix.length + 1)}`
}

/** Base64 HMAC-SHA256 of the raw body, as in X-Shopify-Hmac-Sha256. */
export const signWebhook = (secret: string, body: string | Buffer): string =>
  createHmac("sha256", secret).update(body).digest("base64")

/** Subscriptions and in-flight deliveries. */
export class Webhooks {
  private readonly subs = new Map<number, Subscription>()
  private nextId = 1
  private readonly timers = new Set<NodeJS.Timeout>()
  private inFlight = 0
  private waiters: Array<() => void> = []
  /** Every attempt, in order. */
  readonly deliveries: Array<DeliveryRecord> = []
  private closed = false

  constructor(private readonly state: () => ShopifyState) {}

  /** Current subscriptions. */
  list(): ReadonlyArray<Subscription> {
    return [...this.subs.values()]
  }

  /** The GraphQL view of a subscription. */
  viewOf(s: Subscription) {
    return {
      __typename: "WebhookSubscription",
      id: gid("WebhookSubscription", s.id),
      legacyResourceId: String(s.id),
      topic: s.topic,
      uri: s.uri,
      callbackUrl: s.uri,
      endpoint: { __typename: "WebhookHttpEndpoint", callbackUrl: s.uri },
      format: "JSON",
      includeFields: [],
      metafieldNamespaces: [],
      filter: null,
      apiVersion: { handle: s.apiVersion, displayName: s.apiVersion, supported: true },
      createdAt: isoUtc(s.createdAt),
      updatedAt: isoUtc(s.updatedAt)
    }
  }

  /** The GraphQL view for a gid, or null. */
  view(id: string) {
    const g = parseGid(id)
    const s = g?.type === "WebhookSubscription" ? this.subs.get(g.id) : undefined
    return s === undefined ? null : this.viewOf(s)
  }

  private invalidUri(uri: string | null): string | null {
    if (uri === null || uri === "") return "Address can't be blank"
    try {
      const u = new URL(uri)
      if (u.protocol !== "http:" && u.protocol !== "https:")
        return "Address protocol http:// is not supported"
      return null
    } catch {
      return "Address is invalid"
    }
  }

  /** `webhookSubscriptionCreate`. */
  create(topic: string, uri: string | null, version: string) {
    const problem = this.invalidUri(uri)
    if (problem !== null || uri === null) {
      return {
        webhookSubscription: null,
        userErrors: [{ field: ["webhookSubscription", "callbackUrl"], message: problem }]
      }
    }
    if (this.list().some((s) => s.topic === topic && s.uri === uri)) {
      return {
        webhookSubscription: null,
        userErrors: [
          {
            field: ["webhookSubscription", "callbackUrl"],
            message: "Address for this topic has already been taken"
          }
        ]
      }
    }
    const now = this.state().clock.now()
    const sub: Subscription = {
      id: this.nextId++,
      topic,
      uri,
      createdAt: now,
      updatedAt: now,
      apiVersion: version
    }
    this.subs.set(sub.id, sub)
    return { webhookSubscription: this.viewOf(sub), userErrors: [] }
  }

  /** `webhookSubscriptionUpdate`. */
  update(id: string, uri: string | null, _ctx: unknown) {
    const g = parseGid(id)
    const s = g === null ? undefined : this.subs.get(g.id)
    if (s === undefined)
      return {
        webhookSubscription: null,
        userErrors: [{ field: ["id"], message: "Webhook subscription does not exist" }]
      }
    if (uri !== null) {
      const problem = this.invalidUri(uri)
      if (problem !== null)
        return {
          webhookSubscription: null,
          userErrors: [{ field: ["webhookSubscription", "callbackUrl"], message: problem }]
        }
      s.uri = uri
    }
    s.updatedAt = this.state().clock.now()
    return { webhookSubscription: this.viewOf(s), userErrors: [] }
  }

  /** `webhookSubscriptionDelete`. */
  delete(id: string) {
    const g = parseGid(id)
    if (g === null || !this.subs.delete(g.id)) {
      return {
        deletedWebhookSubscriptionId: null,
        userErrors: [{ field: ["id"], message: "Webhook subscription does not exist" }]
      }
    }
    return { deletedWebhookSubscriptionId: id, userErrors: [] }
  }

  /** Sends `payload` for `topic` ("orders/create") to every subscription of that topic. */
  emit(topic: string, payload: unknown): void {
    if (this.closed) return
    const enumName = topicEnum(topic)
    const eventId = randomUUID()
    const triggeredAt = new Date(this.state().clock.now()).toISOString()
    for (const sub of this.subs.values()) {
      if (sub.topic !== enumName) continue
      const body = JSON.stringify(payload)
      void this.attempt(sub, topic, body, randomUUID(), eventId, triggeredAt, 0)
    }
  }

  private async attempt(
    sub: Subscription,
    topic: string,
    body: string,
    webhookId: string,
    eventId: string,
    triggeredAt: string,
    attempt: number
  ): Promise<void> {
    const st = this.state()
    this.inFlight++
    let status: number | "error" = "error"
    try {
      const res = await fetch(sub.uri, {
        method: "POST",
        body,
        redirect: "manual",
        signal: AbortSignal.timeout(st.options.webhookTimeoutMs),
        headers: {
          "Content-Type": "application/json",
          "X-Shopify-Topic": topic,
          "X-Shopify-Hmac-Sha256": signWebhook(st.credentials.webhookSecret, body),
          "X-Shopify-Shop-Domain": st.shop.domain,
          "X-Shopify-API-Version": sub.apiVersion,
          "X-Shopify-Webhook-Id": webhookId,
          "X-Shopify-Triggered-At": triggeredAt,
          "X-Shopify-Event-Id": eventId
        }
      })
      status = res.status
      await res.arrayBuffer().catch(() => undefined)
    } catch {
      status = "error"
    } finally {
      this.inFlight--
    }
    this.deliveries.push({ topic, uri: sub.uri, webhookId, eventId, attempt, status })
    bump(st, "webhookAttempts")
    const ok = typeof status === "number" && status >= 200 && status < 300
    if (ok) bump(st, "webhookDelivered")
    else {
      bump(st, "webhookFailures")
      const delay = st.options.webhookRetryScheduleMs[attempt]
      if (delay === undefined) {
        this.subs.delete(sub.id)
        bump(st, "webhookSubscriptionsRemoved")
      } else if (!this.closed && this.subs.has(sub.id)) {
        this.inFlight++
        const timer = setTimeout(() => {
          this.timers.delete(timer)
          this.inFlight--
          void this.attempt(sub, topic, body, webhookId, eventId, triggeredAt, attempt + 1)
        }, st.clock.scale(delay))
        this.timers.add(timer)
      }
    }
    this.settle()
  }

  private settle(): void {
    if (this.inFlight === 0) {
      const ws = this.waiters
      this.waiters = []
      for (const w of ws) w()
    }
  }

  /** Resolves when no delivery or retry is pending. */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve()
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  /** Stops retries. */
  close(): void {
    this.closed = true
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    this.inFlight = 0
    this.settle()
  }
}
