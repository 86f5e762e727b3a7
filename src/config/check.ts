// Runs a configuration schema over a parsed YAML document and sorts what it finds into errors
// (the file cannot be used) and warnings (unknown keys, which are ignored).
import type { z } from "zod";

export interface CheckResult<T> {
  value?: T;
  errors: string[];
  warnings: string[];
}

/** A key that reads well as a path segment (letters, digits, `_ - . / @ $ +`); any other is quoted: `jobs["a b"]`, `env["\n"]`. */
const PLAIN_KEY = /^[\p{L}\p{N}_\-./@$+]+$/u;

/** "logging.outputs[0].path"; odd keys (spaces, colons, quotes, control or format characters, empty) quoted as JSON, long ones cut. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else {
      const key = String(p);
      out += key.length <= 60 && PLAIN_KEY.test(key) ? (out ? `.${key}` : key) : `[${JSON.stringify(key.length > 60 ? `${key.slice(0, 60)}…` : key)}]`;
    }
  }
  return out || "(top level)";
}

function removeKey(doc: unknown, path: readonly PropertyKey[], key: string): void {
  let node = doc;
  for (const p of path) node = (node as Record<PropertyKey, unknown>)?.[p];
  if (Object.prototype.toString.call(node) === "[object Object]") delete (node as Record<string, unknown>)[key];
}

export function checkDocument<S extends z.ZodType>(schema: S, doc: unknown, prefix: readonly PropertyKey[] = []): CheckResult<z.output<S>> {
  const errors: string[] = [];
  const warnings: string[] = [];
  let input = doc ?? {};
  let result = schema.safeParse(input);
  if (!result.success) {
    let unknownKeys = false;
    for (const issue of result.error.issues) {
      if (issue.code === "unrecognized_keys") {
        if (!unknownKeys) input = structuredClone(input);
        unknownKeys = true;
        for (const key of issue.keys) {
          warnings.push(`${formatPath([...prefix, ...issue.path, key])}: unknown key (ignored)`);
          removeKey(input, issue.path, key);
        }
      } else {
        errors.push(`${formatPath([...prefix, ...issue.path])}: ${issue.message}`);
      }
    }
    if (errors.length === 0 && unknownKeys) result = schema.safeParse(input);
  }
  return { value: errors.length === 0 && result.success ? result.data : undefined, errors, warnings };
}
