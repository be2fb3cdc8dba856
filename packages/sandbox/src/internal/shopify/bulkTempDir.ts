/**
 * The temp directory a Shopify emulator writes its bulk outputs into. `close()` removes it, but a
 * sandbox killed outright (SIGKILL, a capped bench, a crashed test worker) cannot: one such
 * leftover held 5.3 GB of /tmp. The directory's name carries the owning process id, so the next
 * emulator to start removes the leftovers of processes that no longer exist.
 */
import fs from "node:fs"
import os from "node:os"
import path from "node:path"

const PREFIX = "kura-shopify-bulk-"
/** `kura-shopify-bulk-<pid>-<random>`; names without a pid (older sandboxes) are left alone. */
const OWNED = /^kura-shopify-bulk-(\d+)-/

/** Whether process `pid` exists (one that exists but is not ours counts as alive). */
const processExists = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/**
 * Removes the bulk directories under `root` whose owning process is gone; returns their names.
 * A directory of a live process (or of a pid reused since) is kept: removing a running
 * emulator's outputs would break it, keeping a dead one's only costs disk.
 */
export const sweepOrphanBulkDirs = (
  root: string = os.tmpdir(),
  isAlive: (pid: number) => boolean = processExists
): ReadonlyArray<string> => {
  let names: Array<string>
  try {
    names = fs.readdirSync(root)
  } catch {
    return []
  }
  const removed: Array<string> = []
  for (const name of names) {
    const pid = Number(OWNED.exec(name)?.[1] ?? Number.NaN)
    if (!Number.isSafeInteger(pid) || pid === process.pid || isAlive(pid)) continue
    try {
      fs.rmSync(path.join(root, name), { recursive: true, force: true })
      removed.push(name)
    } catch {
      // Another sandbox may be removing it at the same time, or it is not ours to remove.
    }
  }
  return removed
}

/** Creates this process's bulk directory under `root`, after sweeping dead processes' ones. */
export const makeBulkTempDir = (root: string = os.tmpdir()): string => {
  sweepOrphanBulkDirs(root)
  return fs.mkdtempSync(path.join(root, `${PREFIX}${process.pid}-`))
}
