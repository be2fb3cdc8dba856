/**
 * How `kura-sync serve` logs on Cloud Run: one JSON line per log call that Cloud Logging parses
 * (`@kura/core`'s CloudLogger), with the stream copied into the entry's labels. The deploy guide's
 * log-based metric and alerting policies (`deploy/monitoring/`) filter on these lines, and a test
 * holds the two together.
 */
import type { CloudLoggerOptions } from "@kura/core"

/** The service's name as DEPLOY.md deploys it; every line carries it as label `service`. */
export const SERVICE_NAME = "kura-sync"

/** The logger options of the service; `projectId` turns on the trace fields. */
export const serviceLoggerOptions = (projectId: string | undefined): CloudLoggerOptions => ({
  projectId,
  labels: { service: SERVICE_NAME },
  // Indexed and filterable (`labels.stream`): the alerts say which stream failed or went stale.
  labelAnnotations: ["stream"]
})
