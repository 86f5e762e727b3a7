// Kept apart from the loaders so the command dispatcher can catch it without loading yaml/zod.
export class ConfigError extends Error {
  constructor(
    readonly problems: string[],
    readonly warnings: string[] = [],
  ) {
    super(problems.join("\n"));
    this.name = "ConfigError";
  }
}
