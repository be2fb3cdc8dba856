/** The package's semantic version, stamped into the User-Agent header. */
export const VERSION = "0.0.0"
