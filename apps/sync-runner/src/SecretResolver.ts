/**
 * Resolves `sm://projects/<p>/secrets/<s>/versions/<v>` references through the Secret Manager REST
 * API at start-up, so production secrets never sit in plain environment variables or config files.
 */
import { Context, Effect, Layer, Redacted, Schema } from "effect"

/** The part of a google-auth-library client we need: `GoogleAuth` and `OAuth2Client` both fit. */
export interface RequestHeadersClient {
  readonly getRequestHeaders: (url?: string | URL) => Promise<Headers>
}

/** A reference could not be resolved. `reason` says whether retrying or fixing config helps. */
export class SecretResolveError extends Schema.TaggedError<SecretResolveError>()("SecretResolveError", {
  reference: Schema.String,
  reason: Schema.Literals(["InvalidReference", "NotFound", "PermissionDenied", "Unavailable", "BadResponse"]),
  message: Schema.String
}) {}

const REFERENCE = /^sm:\/\/(projects\/[^/\s]+\/secrets\/[^/\s]+\/versions\/[^/\s]+)$/

/** True when a configuration value is a Secret Manager reference rather than a literal. */
export const isSecretReference = (value: string): boolean => value.startsWith("sm://")

const AccessResponse = Schema.Struct({
  payload: Schema.Struct({ data: Schema.String })
})

/** Turns `sm://` references into secret values. */
export class SecretResolver extends Context.Service<
  SecretResolver,
  {
    readonly resolve: (reference: string) => Effect.Effect<Redacted.Redacted<string>, SecretResolveError>
  }
>()("@kura/sync-runner/SecretResolver") {
  /** Calls the REST API at `baseUrl` with headers from `auth` (ADC in production, a stub in tests). */
  static readonly make = (options: {
    readonly auth: RequestHeadersClient
    readonly baseUrl?: string
  }): SecretResolver["Service"] => {
    const baseUrl = (options.baseUrl ?? "https://secretmanager.googleapis.com").replace(/\/$/, "")
    const resolve = Effect.fn("SecretResolver.resolve")(function* (reference: string) {
      const match = REFERENCE.exec(reference)
      if (match === null) {
        return yield* new SecretResolveError({
          reference,
          reason: "InvalidReference",
          message: "expected sm://projects/<project>/secrets/<secret>/versions/<version|latest>"
        })
      }
      const url = `${baseUrl}/v1/${match[1]}:access`
      const fail = (reason: SecretResolveError["reason"], message: string) =>
        new SecretResolveError({ reference, reason, message })
      const response = yield* Effect.tryPromise({
        try: async (signal) => {
          const headers = await options.auth.getRequestHeaders(url)
          return fetch(url, { headers, signal })
        },
        catch: (cause) => fail("Unavailable", `Secret Manager request failed: ${String(cause)}`)
      })
      if (response.status === 404) return yield* fail("NotFound", "the secret or version does not exist")
      if (response.status === 403 || response.status === 401) {
        return yield* fail(
          "PermissionDenied",
          `HTTP ${response.status}; grant roles/secretmanager.secretAccessor on the secret to the service account`
        )
      }
      if (!response.ok) return yield* fail("Unavailable", `HTTP ${response.status} from Secret Manager`)
      const body = yield* Effect.tryPromise({
        try: () => response.json(),
        catch: () => fail("BadResponse", "Secret Manager answered with invalid JSON")
      })
      const decoded = yield* Schema.decodeUnknownEffect(AccessResponse)(body).pipe(
        Effect.mapError(() => fail("BadResponse", "Secret Manager answer lacks payload.data"))
      )
      return Redacted.make(Buffer.from(decoded.payload.data, "base64").toString("utf8"))
    })
    return SecretResolver.of({ resolve })
  }

  /**
   * Production: Application Default Credentials (the Cloud Run service account). google-auth-library
   * is loaded on the first reference only, so configurations without `sm://` values pay nothing.
   */
  static readonly layer = Layer.sync(SecretResolver, () => {
    let resolver: Promise<SecretResolver["Service"]> | undefined
    const load = () => {
      resolver ??= import("google-auth-library").then(({ GoogleAuth }) =>
        SecretResolver.make({
          auth: new GoogleAuth({ scopes: ["https://www.googleapis.com/auth/cloud-platform"] })
        })
      )
      return resolver
    }
    return SecretResolver.of({
      resolve: (reference) =>
        Effect.flatMap(
          Effect.tryPromise({
            try: load,
            catch: (cause) =>
              new SecretResolveError({
                reference,
                reason: "Unavailable",
                message: `google-auth-library: ${String(cause)}`
              })
          }),
          (r) => r.resolve(reference)
        )
    })
  })

  /** For configurations without references: any `sm://` value fails with a clear error. */
  static readonly layerNone = Layer.succeed(
    SecretResolver,
    SecretResolver.of({
      resolve: (reference) =>
        Effect.fail(
          new SecretResolveError({
            reference,
            reason: "Unavailable",
            message: "Secret Manager is not available in this context"
          })
        )
    })
  )
}
