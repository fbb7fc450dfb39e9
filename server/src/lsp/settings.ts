// Typed `citadel.*` settings as the server uses them. Declared in package.json `contributes.configuration`;
// values arrive from the client untyped, so `settingsFrom` keeps only what is well formed.

export interface Settings {
  /** Registry URL overriding npm config; undefined: the project's and user's npm config decide. */
  registry?: string;
  /** Parallel registry requests; undefined: the engine's default. */
  concurrency?: number;
}

export function settingsFrom(raw: unknown): Settings {
  const settings: Settings = {};
  if (typeof raw !== 'object' || raw === null) return settings;
  const { registry, concurrency } = raw as Record<string, unknown>;
  if (typeof registry === 'string' && /^https?:\/\/\S+$/i.test(registry.trim())) settings.registry = registry.trim();
  if (typeof concurrency === 'number' && Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 256) {
    settings.concurrency = concurrency;
  }
  return settings;
}
