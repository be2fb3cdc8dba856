/**
 * Which logger a Kura process runs with. On Cloud Run every line should be a Cloud Logging JSON
 * entry (severity, labels, trace), or the deploy guide's alerts never see it: a job's plain lines
 * land as unparsed text. On a laptop people read the lines, so Effect's own format is kinder.
 */
import { Layer } from "effect"
import { type CloudLoggerOptions, layerCloudLogger } from "./CloudLogger.js"

/** `json`: Cloud Logging lines (`cloudLogger`); `pretty`: Effect's default logger. */
export type LogFormat = "json" | "pretty"

/** Every format, in the order an error message lists them. */
export const LOG_FORMATS: ReadonlyArray<LogFormat> = ["json", "pretty"]

/** True on Cloud Run, which sets `K_SERVICE` in a service and `CLOUD_RUN_JOB` in a job's tasks. */
export const onCloudRun = (env: Readonly<Record<string, string | undefined>>): boolean =>
  (env.K_SERVICE ?? "") !== "" || (env.CLOUD_RUN_JOB ?? "") !== ""

/**
 * The format a setting asks for, `fallback` when it is unset or blank, and undefined for any other
 * value: the caller names its variable in the error, so a typo never silently picks a format.
 */
export const logFormatOf = (value: string | undefined, fallback: LogFormat): LogFormat | undefined => {
  const v = value?.trim().toLowerCase() ?? ""
  if (v === "") return fallback
  return LOG_FORMATS.find((f) => f === v)
}

/** The logger of a format; `pretty` leaves Effect's default in place. */
export const layerLogFormat = (format: LogFormat, options: CloudLoggerOptions = {}): Layer.Layer<never> =>
  format === "json" ? layerCloudLogger(options) : Layer.empty
