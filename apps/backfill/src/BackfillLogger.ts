/**
 * How `kura-backfill` logs: Cloud Logging JSON lines on Cloud Run (each task of a Cloud Run Job),
 * so a window's retry warning lands with its severity and can be filtered by `labels.service`;
 * Effect's readable lines elsewhere. `KURA_LOG_FORMAT` (json or pretty) overrides. The plan and
 * progress lines are the command's output, not log calls, and stay plain.
 */
import { type CloudLoggerOptions, type LogFormat, layerLogFormat, logFormatOf, onCloudRun } from "@kura/core"
import { Console, Effect, Layer } from "effect"
import { BackfillConfigError } from "./BackfillConfig.js"
import { LABEL_ANNOTATIONS } from "./BackfillOutcome.js"

/** The label `service` of every JSON line. */
export const BACKFILL_SERVICE_NAME = "kura-backfill"

/**
 * The Cloud Logging logger's settings: every line labelled `service=kura-backfill`, and the run's
 * source, account and task copied into labels, which the alert's incident names.
 */
export const backfillLoggerOptions = (projectId: string | undefined): CloudLoggerOptions => ({
  projectId,
  labels: { service: BACKFILL_SERVICE_NAME },
  labelAnnotations: LABEL_ANNOTATIONS
})

/** The backfill's log format: `KURA_LOG_FORMAT`, else JSON on Cloud Run; undefined for a typo. */
export const backfillLogFormat = (env: Readonly<Record<string, string | undefined>>): LogFormat | undefined =>
  logFormatOf(env.KURA_LOG_FORMAT, onCloudRun(env) ? "json" : "pretty")

/** The backfill's logger; `GOOGLE_CLOUD_PROJECT` adds trace fields. Exit 2 on an unknown format. */
export const layerBackfillLogger = (
  env: Readonly<Record<string, string | undefined>>
): Layer.Layer<never, BackfillConfigError> => {
  const format = backfillLogFormat(env)
  if (format === undefined) {
    const error = new BackfillConfigError({
      problems: [
        {
          field: "KURA_LOG_FORMAT",
          message: `"${env.KURA_LOG_FORMAT?.trim()}" is not a log format`,
          fix: "set json (Cloud Logging lines) or pretty, or unset it (json on Cloud Run, pretty elsewhere)"
        }
      ]
    })
    return Layer.effectDiscard(Effect.andThen(Console.error(error.message), Effect.fail(error)))
  }
  return layerLogFormat(format, backfillLoggerOptions(env.GOOGLE_CLOUD_PROJECT ?? env.GCLOUD_PROJECT))
}
