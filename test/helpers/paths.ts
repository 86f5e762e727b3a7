// Where the tests find the built executable and the repository.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

export const REPO = resolve(import.meta.dir, "../..");
export const JOBLET = process.env.JOBLET_BIN ?? join(REPO, "dist", "joblet");
/** The same executable through its `rnx` symlink (the name selects client mode). */
export const RNX = join(JOBLET, "..", "rnx");

export function requireBinary(): void {
  if (!existsSync(JOBLET)) throw new Error(`${JOBLET} is missing: run \`npm run build\` first`);
}
