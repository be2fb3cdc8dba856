/**
 * Package entry point. The real exports land with this package's issue.
 */

/** The package's semantic version, stamped for User-Agent headers. */
export const VERSION = "0.0.0"

/** Placeholder marker so the scaffold's entry point is not empty. */
export const PACKAGE = "scaffold"
