/**
 * A durable core `TokenStore` in the warehouse (`_kura_tokens`), for deployments without a durable
 * disk (Cloud Run): Lightspeed K-Series refresh tokens are single-use, so the rotated one must
 * survive the process, and two processes must never both spend one.
 *
 * Compare-and-set: each record carries a fingerprint of its refresh token (HMAC-SHA-256 with the
 * encryption key, or SHA-256 without one); `put` with `expectRefreshToken` writes in one MERGE only
 * if the stored fingerprint still matches, so of two processes refreshing with the same token only
 * one stores its result, and the other re-reads instead of using a dead token.
 *
 * Secrets at rest — the trade-off: the token set must be stored (a refresh token that is not kept
 * is lost), and the warehouse is readable by whoever can read the dataset or the DuckDB file. With
 * `encryptionKey` (`KURA_TOKEN_ENCRYPTION_KEY`, e.g. from Secret Manager) the set is sealed with
 * AES-256-GCM before it leaves the process, so the table, BigQuery job history (which records query
 * parameters) and backups only ever see ciphertext and one-way fingerprints. Without a key the set
 * is stored as plain JSON: acceptable for a laptop DuckDB file, not for a shared BigQuery dataset.
 * Either way secrets stay `Redacted` in memory and no error or log line includes them. Changing
 * the key makes stored sets unreadable (the error says so): re-seed the credential after rotating.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from "node:crypto"
import { StoreError, type TokenSet, TokenStore } from "@kura/core"
import { Clock, Config, Effect, Layer, Option, Redacted, Schema } from "effect"
import { Warehouse } from "./Warehouse.js"
import type { WarehouseError } from "./WarehouseError.js"

/** Options of the warehouse token store. */
export interface WarehouseTokenStoreOptions {
  /** Seals token sets with AES-256-GCM (any length; it is hashed into a 256-bit key). */
  readonly encryptionKey?: Redacted.Redacted<string>
}

const StoredTokenSet = Schema.Struct({
  accessToken: Schema.String,
  refreshToken: Schema.NullOr(Schema.String),
  expiresAt: Schema.NullOr(Schema.Number),
  refreshExpiresAt: Schema.NullOr(Schema.Number),
  issuedAt: Schema.Number,
  scope: Schema.NullOr(Schema.String)
})
const decodeStored = Schema.decodeUnknownEffect(Schema.fromJsonString(StoredTokenSet))

const PLAIN = "v1:plain:"
const SEALED = "v1:gcm:"

const failure = (operation: string, message: string, cause?: unknown) =>
  new StoreError({ store: "TokenStore", operation, message, ...(cause === undefined ? {} : { cause }) })
const fromWarehouse = (operation: string) => (e: WarehouseError) => failure(operation, e.message, e)

/** Builds the store over a Warehouse. */
export const make = (warehouse: Warehouse["Service"], options: WarehouseTokenStoreOptions = {}) => {
  const key =
    options.encryptionKey === undefined
      ? undefined
      : createHash("sha256").update(Redacted.value(options.encryptionKey), "utf8").digest()

  const fingerprint = (refreshToken: string | null): string | null => {
    if (refreshToken === null) return null
    return key === undefined
      ? createHash("sha256").update(refreshToken, "utf8").digest("hex")
      : createHmac("sha256", key).update(refreshToken, "utf8").digest("hex")
  }

  const seal = (tokens: TokenSet): string => {
    const json = JSON.stringify({
      accessToken: Redacted.value(tokens.accessToken),
      refreshToken: tokens.refreshToken === null ? null : Redacted.value(tokens.refreshToken),
      expiresAt: tokens.expiresAt,
      refreshExpiresAt: tokens.refreshExpiresAt,
      issuedAt: tokens.issuedAt,
      scope: tokens.scope
    })
    if (key === undefined) return `${PLAIN}${json}`
    const iv = randomBytes(12)
    const cipher = createCipheriv("aes-256-gcm", key, iv)
    const body = Buffer.concat([cipher.update(json, "utf8"), cipher.final()])
    return `${SEALED}${iv.toString("base64")}:${cipher.getAuthTag().toString("base64")}:${body.toString("base64")}`
  }

  const unseal = (credential: string, sealed: string): Effect.Effect<string, StoreError> => {
    if (sealed.startsWith(PLAIN)) return Effect.succeed(sealed.slice(PLAIN.length))
    if (!sealed.startsWith(SEALED))
      return Effect.fail(failure(`get ${credential}`, `token record for ${credential} has an unknown format`))
    if (key === undefined)
      return Effect.fail(
        failure(
          `get ${credential}`,
          `token record for ${credential} is encrypted: set KURA_TOKEN_ENCRYPTION_KEY (encryptionKey) to the key it was written with`
        )
      )
    return Effect.try({
      try: () => {
        const [iv, tag, body] = sealed.slice(SEALED.length).split(":")
        const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv ?? "", "base64"))
        decipher.setAuthTag(Buffer.from(tag ?? "", "base64"))
        return Buffer.concat([decipher.update(Buffer.from(body ?? "", "base64")), decipher.final()]).toString(
          "utf8"
        )
      },
      // The cause is dropped on purpose: it may quote decrypted bytes.
      catch: () =>
        failure(
          `get ${credential}`,
          `cannot decrypt the token record for ${credential}: the encryption key differs from the one it was written with (re-seed the credential after rotating the key)`
        )
    })
  }

  return TokenStore.of({
    get: (credential) =>
      Effect.gen(function* () {
        const record = yield* warehouse.tokenRecords
          .get(credential)
          .pipe(Effect.mapError(fromWarehouse(`get ${credential}`)))
        if (Option.isNone(record)) return Option.none<TokenSet>()
        const json = yield* unseal(credential, record.value.sealed)
        const s = yield* decodeStored(json).pipe(
          Effect.mapError(() =>
            failure(`get ${credential}`, `token record for ${credential} is not a valid token set`)
          )
        )
        return Option.some<TokenSet>({
          accessToken: Redacted.make(s.accessToken),
          refreshToken: s.refreshToken === null ? null : Redacted.make(s.refreshToken),
          expiresAt: s.expiresAt,
          refreshExpiresAt: s.refreshExpiresAt,
          issuedAt: s.issuedAt,
          scope: s.scope
        })
      }).pipe(Effect.withSpan("WarehouseTokenStore.get")),
    put: (credential, tokens, putOptions) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const expect = putOptions?.expectRefreshToken
        return yield* warehouse.tokenRecords
          .put(
            credential,
            {
              sealed: seal(tokens),
              refreshFingerprint: fingerprint(
                tokens.refreshToken === null ? null : Redacted.value(tokens.refreshToken)
              ),
              updatedAt: now
            },
            expect === undefined ? {} : { expectFingerprint: fingerprint(expect) }
          )
          .pipe(Effect.mapError(fromWarehouse(`put ${credential}`)))
      }).pipe(Effect.withSpan("WarehouseTokenStore.put"))
  })
}

/** A TokenStore over the Warehouse in context. */
export const layer = (options: WarehouseTokenStoreOptions = {}): Layer.Layer<TokenStore, never, Warehouse> =>
  Layer.effect(
    TokenStore,
    Effect.map(Effect.service(Warehouse), (w) => make(w, options))
  )

/** Like `layer`, reading the optional `KURA_TOKEN_ENCRYPTION_KEY` through Effect Config. */
export const layerConfig: Layer.Layer<TokenStore, Config.ConfigError, Warehouse> = Layer.effect(
  TokenStore,
  Effect.gen(function* () {
    const w = yield* Warehouse
    const encryptionKey = yield* Config.option(Config.Redacted("KURA_TOKEN_ENCRYPTION_KEY"))
    return make(w, Option.isSome(encryptionKey) ? { encryptionKey: encryptionKey.value } : {})
  })
)
