/**
 * Who may start a sync over HTTP: Cloud Scheduler with a Google-signed OIDC token for our audience,
 * or a caller holding the shared bearer secret. Everything else is refused.
 */

import { Context, Effect, Layer, Option, Redacted } from "effect"
import type { OAuth2Client } from "google-auth-library"
import { safeEqual } from "./internal/hmac.js"

/** Why a trigger was refused, or who it was accepted from. */
export type AuthOutcome =
  | { readonly _tag: "Accepted"; readonly principal: string }
  | { readonly _tag: "Refused"; readonly reason: string }

/** Options for trigger authentication. */
export interface TriggerAuthOptions {
  readonly secret: Option.Option<Redacted.Redacted<string>>
  readonly audience: Option.Option<string>
  /**
   * Service accounts allowed to trigger (the Cloud Scheduler identity). Required with an audience:
   * any Google account can mint an ID token for any audience, so the audience alone proves nothing.
   */
  readonly allowedEmails?: ReadonlyArray<string>
  /** Verifies Google ID tokens; injectable so tests can point it at a local certs server. */
  readonly client?: OAuth2Client
}

/** The trigger authentication service. */
export class TriggerAuth extends Context.Service<
  TriggerAuth,
  {
    readonly authorize: (authorization: string | undefined) => Effect.Effect<AuthOutcome>
  }
>()("@kura/sync-runner/TriggerAuth") {
  /** Builds the service; loads google-auth-library only when an audience is configured. */
  static readonly make = Effect.fnUntraced(function* (options: TriggerAuthOptions) {
    const client: OAuth2Client | undefined =
      options.client ??
      (Option.isSome(options.audience)
        ? yield* Effect.promise(async () => new (await import("google-auth-library")).OAuth2Client())
        : undefined)

    const allowed = new Set((options.allowedEmails ?? []).map((e) => e.toLowerCase()))
    const authorize = (authorization: string | undefined): Effect.Effect<AuthOutcome> =>
      Effect.gen(function* () {
        const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? "")
        if (match === null)
          return { _tag: "Refused", reason: "missing Authorization: Bearer header" } as const
        const token = match[1]!
        if (Option.isSome(options.secret) && safeEqual(token, Redacted.value(options.secret.value)))
          return { _tag: "Accepted", principal: "shared-secret" } as const
        if (Option.isNone(options.audience) || client === undefined || token.split(".").length !== 3)
          return { _tag: "Refused", reason: "invalid bearer token" } as const
        const audience = options.audience.value
        const ticket = yield* Effect.tryPromise(() =>
          client.verifyIdToken({ idToken: token, audience })
        ).pipe(Effect.result)
        if (ticket._tag === "Failure") {
          const message = ticket.failure.cause instanceof Error ? ticket.failure.cause.message : "invalid"
          // The library's messages can echo the token; keep only the first clause.
          return { _tag: "Refused", reason: `OIDC token rejected: ${message.split(":")[0]}` } as const
        }
        const payload = ticket.success.getPayload()
        const email = payload?.email?.toLowerCase()
        if (email === undefined || payload?.email_verified !== true || !allowed.has(email))
          return {
            _tag: "Refused",
            reason: `OIDC token of ${email ?? "an unknown principal"} is not an allowed invoker`
          } as const
        return { _tag: "Accepted", principal: email } as const
      })

    return TriggerAuth.of({ authorize })
  })

  /** The layer for given options. */
  static readonly layer = (options: TriggerAuthOptions) =>
    Layer.effect(TriggerAuth, TriggerAuth.make(options))
}
