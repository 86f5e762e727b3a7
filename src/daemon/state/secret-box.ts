// Secret values of jobs that wait (scheduled, queued, workflow steps, recurring schedules) must
// survive a restart, yet never reach the state store in clear. They are sealed with AES-256-GCM
// under a key kept in its own file (0600) beside the database, as Nomad's keyring does for its
// variables: a copy of the database alone (a backup, a support bundle) reveals no secret.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { closeSync, constants, existsSync, fstatSync, openSync, readFileSync, writeSync, fsyncSync } from "node:fs";
import { join } from "node:path";
import { StateError } from "./store";

export const SECRETS_KEY_FILE = "secrets.key";
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const FORMAT = "v1:";

export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  /** A key that lives as long as the process (the memory backend keeps nothing either). */
  static ephemeral(): SecretBox {
    return new SecretBox(randomBytes(KEY_BYTES));
  }

  /** <directory>/secrets.key, created (0600, O_EXCL) on first use. */
  static forDirectory(directory: string): SecretBox {
    const file = join(directory, SECRETS_KEY_FILE);
    if (!existsSync(file)) {
      const key = randomBytes(KEY_BYTES);
      try {
        const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
        try {
          writeSync(fd, key);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        return new SecretBox(key);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw new StateError(`cannot create the secrets key ${file}: ${(e as Error).message}`, file);
      }
    }
    const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const st = fstatSync(fd);
      if (!st.isFile() || st.size !== KEY_BYTES) throw new StateError(`the secrets key ${file} is not a ${KEY_BYTES}-byte file; without it, waiting jobs' secret environment cannot be read`, file);
      if (st.mode & 0o077) throw new StateError(`the secrets key ${file} is readable by others (mode ${(st.mode & 0o777).toString(8)}); run: chmod 600 ${file}`, file);
      return new SecretBox(readFileSync(fd));
    } finally {
      closeSync(fd);
    }
  }

  seal(values: Record<string, string>): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    const body = Buffer.concat([cipher.update(JSON.stringify(values), "utf8"), cipher.final()]);
    return FORMAT + Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64");
  }

  /** Throws when the text was not sealed by this key (another key file, or tampered with). */
  open(sealed: string): Record<string, string> {
    if (!sealed.startsWith(FORMAT)) throw new Error("sealed secrets: unknown format");
    const raw = Buffer.from(sealed.slice(FORMAT.length), "base64");
    if (raw.length < IV_BYTES + TAG_BYTES) throw new Error("sealed secrets: truncated");
    const decipher = createDecipheriv("aes-256-gcm", this.key, raw.subarray(0, IV_BYTES));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    const text = Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString("utf8");
    return JSON.parse(text) as Record<string, string>;
  }
}
