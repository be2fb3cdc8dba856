/**
 * How `kura-sync` logs. On Cloud Run (the `serve` service, and `run` / `check` as Cloud Run Jobs)
 * every line is a JSON entry Cloud Logging parses (`@kura/core`'s CloudLogger), with the stream
 * copied into the entry's labels: the deploy guide's log-based metric and alerting policies
 * (`deploy/monitoring/`) filter on these lines, and a test holds the two together. Elsewhere the
 * one-off commands keep Effect's readable lines. `KURA_LOG_FORMAT` overrides both.
 */
import { type CloudLoggerOptions, type LogFormat, layerLogFormat, logFormatOf, onCloudRun } from "@kura/core"
import { Console, Effect, Layer } from "effect"
import { ConfigError } from "./ConfigError.js"

/** The service's name as DEPLOY.md deploys it; every line carries it as label `service`. */
export const SERVICE_NAME = "kura-sync"

/** The logger options of the service; `projectId` turns on the trace fields. */
export const serviceLoggerOptions = (projectId: string | undefined): CloudLoggerOptions => ({
  projectId,
  labels: { service: SERVICE_NAME },
  // Indexed and filterable (`labels.stream`): the alerts say which stream failed or went stale.
  labelAnnotations: ["stream"]
})

type Env = Readonly<Record<string, string | undefined>>

/**
 * The format of a command's logs: `KURA_LOG_FORMAT` when set; else JSON for `serve` (a service's
 * logs are for machines wherever it runs) and for any command on Cloud Run; else pretty.
 */
export const logFormatFor = (
  env: Env,
  command: "serve" | "command"
): Effect.Effect<LogFormat, ConfigError> => {
  const format = logFormatOf(env.KURA_LOG_FORMAT, command === "serve" || onCloudRun(env) ? "json" : "pretty")
  return format !== undefined
    ? Effect.succeed(format)
    : Effect.fail(
        new ConfigError({
          problems: [
            {
              field: "KURA_LOG_FORMAT",
              message: `"${env.KURA_LOG_FORMAT?.trim()}" is not a log format`,
              fix: "set json (Cloud Logging lines) or pretty, or unset it (json on Cloud Run and for serve, pretty elsewhere)"
            }
          ]
        })
      )
}

/**
 * The logger of a command, labelled as the service. `projectId` adds trace fields: `serve` passes
 * its validated configuration's project, the other commands `GOOGLE_CLOUD_PROJECT` as set.
 */
export const layerServiceLogger = (
  env: Env,
  command: "serve" | "command",
  projectId: string | undefined = env.GOOGLE_CLOUD_PROJECT ?? env.GCLOUD_PROJECT
): Layer.Layer<never, ConfigError> =>
  Layer.unwrap(
    logFormatFor(env, command).pipe(
      Effect.tapError((e) => Console.error(e.message)),
      Effect.map((format) => layerLogFormat(format, serviceLoggerOptions(projectId)))
    )
  )
