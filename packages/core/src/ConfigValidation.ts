/**
 * Startup validation that reports every missing or invalid variable at once. Effect's `Config`
 * stops at the first problem, which turns a deploy into a loop of "fix one variable, redeploy";
 * `validateConfig` runs each entry on its own and fails with one `ConfigValidationError` listing
 * them all, each with the variable name it expects and what is wrong. Secret values never appear:
 * details are redacted, and `secretConfig` registers secrets with `Redaction` as they are read.
 */
import { Config, ConfigProvider, Effect, Redacted, Schema } from "effect"
import { redact, registerSecret } from "./Redaction.js"

/** One problem with one variable. */
export const ConfigProblem = Schema.Struct({
  /** The variable name the program expects, e.g. SHOPIFY_SHOP_DOMAIN. */
  name: Schema.String,
  kind: Schema.Literals(["missing", "invalid"]),
  /** What was expected (never the secret value). */
  detail: Schema.String
})
/** One problem with one variable. */
export type ConfigProblem = typeof ConfigProblem.Type

/** Every missing or invalid variable, found in one pass. */
export class ConfigValidationError extends Schema.TaggedError<ConfigValidationError>()(
  "ConfigValidationError",
  {
    problems: Schema.Array(ConfigProblem)
  }
) {
  /** One line per problem, ready for a startup log. */
  override get message(): string {
    const lines = this.problems.map((p) =>
      p.kind === "missing" ? `  - ${p.name}: missing (${p.detail})` : `  - ${p.name}: invalid (${p.detail})`
    )
    return `Configuration has ${this.problems.length} problem(s):\n${lines.join("\n")}`
  }
}

/** The value type of a config. */
export type ConfigValue<C> = C extends Config.Config<infer A> ? A : never

const PATH = /\n\s*at (\[.*\])\s*$/

const describeFailure = (
  key: string,
  error: Config.ConfigError,
  provider: ConfigProvider.ConfigProvider
): Effect.Effect<ConfigProblem> =>
  Effect.gen(function* () {
    const text = error.cause.message
    const match = PATH.exec(text)
    let path: ReadonlyArray<string | number> = [key]
    if (match?.[1] !== undefined) {
      try {
        const parsed: unknown = JSON.parse(match[1])
        if (Array.isArray(parsed) && parsed.every((s) => typeof s === "string" || typeof s === "number"))
          path = parsed
      } catch {
        // keep the record key as the name
      }
    }
    const expected = (match ? text.slice(0, match.index) : text).trim()
    const found = yield* Effect.orElseSucceed(provider.load(path), () => undefined)
    const name = path.map(String).join("_")
    return {
      name,
      kind: found === undefined ? "missing" : "invalid",
      detail: redact(found === undefined ? `set ${name}` : expected)
    } satisfies ConfigProblem
  })

/**
 * Reads every entry of `fields` and either returns all values or fails with one error listing
 * every problem. Entries are independent (one bad variable does not hide the next).
 *
 * ```ts
 * const config = yield* validateConfig({
 *   shop: Config.String("SHOPIFY_SHOP_DOMAIN"),
 *   token: secretConfig("SHOPIFY_ACCESS_TOKEN"),
 *   port: Config.Port("PORT").pipe(Config.withDefault(8080))
 * })
 * ```
 */
export const validateConfig = <const Fields extends Readonly<Record<string, Config.Config<unknown>>>>(
  fields: Fields
): Effect.Effect<{ readonly [K in keyof Fields]: ConfigValue<Fields[K]> }, ConfigValidationError> =>
  Effect.gen(function* () {
    const provider = yield* ConfigProvider.ConfigProvider
    const values: Record<string, unknown> = {}
    const problems: Array<ConfigProblem> = []
    for (const [key, config] of Object.entries(fields)) {
      const result = yield* Effect.result(config.parse(provider))
      if (result._tag === "Success") values[key] = result.success
      else problems.push(yield* describeFailure(key, result.failure, provider))
    }
    if (problems.length > 0) return yield* new ConfigValidationError({ problems })
    const out: { readonly [K in keyof Fields]: ConfigValue<Fields[K]> } = Object.assign(
      Object.create(null),
      values
    )
    return out
  })

/** A `Redacted` secret that is also registered with `Redaction`, so its value is masked in every log line. */
export const secretConfig = (name: string): Config.Config<Redacted.Redacted<string>> =>
  Config.Redacted(name).pipe(
    Config.map((secret) => {
      registerSecret(secret)
      return secret
    })
  )

/** Renders a config value for a startup log: `Redacted` values print as `<redacted>`, others as JSON. */
export const describeConfig = (values: Readonly<Record<string, unknown>>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [key, value] of Object.entries(values)) {
    out[key] = Redacted.isRedacted(value)
      ? "<redacted>"
      : redact(typeof value === "string" ? value : (JSON.stringify(value) ?? String(value)))
  }
  return out
}
