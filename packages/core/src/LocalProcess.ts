/**
 * Whether a process named by host and pid is known to be gone. Locks and leases record their
 * holder this way so that a holder killed on this machine is recognised at once instead of
 * after a timeout; a holder on another host is never judged (its pid means nothing here).
 */
import { hostname } from "node:os"

/** True only when `host` is this machine and no process `pid` exists on it any more. */
export const isDeadLocalProcess = (host: string, pid: number): boolean => {
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return false
  } catch (cause) {
    return Reflect.get(Object(cause), "code") === "ESRCH"
  }
}
