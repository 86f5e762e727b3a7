// The state store the configuration asks for (the `state` section).
import { MemoryStateStore } from "./memory";
import { SecretBox } from "./secret-box";
import { SqliteStateStore } from "./sqlite";
import type { StateStore } from "./store";

export interface StateConfig {
  backend: "local" | "memory" | "dynamodb";
  local: { directory: string };
}

/**
 * `local`: <state.local.directory>/joblet.db (throws a StateError when it cannot be used);
 * `memory`: nothing survives the process; `dynamodb`: refused, as not implemented yet, rather
 * than quietly keeping the state in memory.
 */
export function openStateStore(config: StateConfig): StateStore {
  switch (config.backend) {
    case "local":
      return SqliteStateStore.open(config.local.directory);
    case "memory":
      return new MemoryStateStore();
    case "dynamodb":
      throw new Error('state.backend "dynamodb" is not implemented yet: use "local" (the default, a SQLite database in state.local.directory) or "memory"');
    default:
      throw new Error(`unknown state.backend ${JSON.stringify((config as { backend: unknown }).backend)}`);
  }
}

/** The key that seals waiting jobs' secrets: beside the database, or in memory with it. */
export function openSecretBox(config: StateConfig): SecretBox {
  return config.backend === "local" ? SecretBox.forDirectory(config.local.directory) : SecretBox.ephemeral();
}
