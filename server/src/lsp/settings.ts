// Typed `citadel.*` settings as the server uses them. Declared in package.json `contributes.configuration`;
// values arrive from the client untyped, so `settingsFrom` keeps only what is well formed.
import { HTTP2_MODES, type Http2Mode, type Severity } from '../engine/types';

export type SeverityOverride = Severity | 'off';

export interface Settings {
  /** Registry URL overriding npm config; undefined: the project's and user's npm config decide. */
  registry?: string;
  /** Parallel registry requests; undefined: the engine's default. */
  concurrency?: number;
  /** `citadel.http2`; undefined: the engine's default (auto). */
  http2?: Http2Mode;
  /** `citadel.diagnostics.severity`: a severity per problem code, or "off". */
  severity?: Record<string, SeverityOverride>;
  /** `citadel.diagnostics.disabled`: problem codes never shown. */
  disabled?: string[];
  /** `citadel.cache.*` and `citadel.offline`. */
  cacheDirectory?: string;
  cacheMaxSizeMB?: number;
  cacheTtlMinutes?: number;
  offline?: boolean;
}

const SEVERITIES = new Set<string>(['error', 'warning', 'info', 'hint', 'off']);
const CODE = /^[a-z][a-z-]*$/;

export function settingsFrom(raw: unknown): Settings {
  const settings: Settings = {};
  if (typeof raw !== 'object' || raw === null) return settings;
  const { registry, concurrency, http2, diagnostics, cache, offline } = raw as Record<string, unknown>;
  if (offline === true) settings.offline = true;
  if (typeof cache === 'object' && cache !== null) {
    const { directory, maxSizeMB, ttlMinutes } = cache as Record<string, unknown>;
    if (typeof directory === 'string' && directory.trim()) settings.cacheDirectory = directory.trim();
    if (typeof maxSizeMB === 'number' && maxSizeMB >= 1) settings.cacheMaxSizeMB = maxSizeMB;
    if (typeof ttlMinutes === 'number' && ttlMinutes >= 0) settings.cacheTtlMinutes = ttlMinutes;
  }
  if (typeof registry === 'string' && /^https?:\/\/\S+$/i.test(registry.trim())) settings.registry = registry.trim();
  if (typeof concurrency === 'number' && Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 256) {
    settings.concurrency = concurrency;
  }
  if (typeof http2 === 'string' && (HTTP2_MODES as readonly string[]).includes(http2)) settings.http2 = http2 as Http2Mode;
  if (typeof diagnostics === 'object' && diagnostics !== null) {
    const { severity, disabled } = diagnostics as Record<string, unknown>;
    if (typeof severity === 'object' && severity !== null && !Array.isArray(severity)) {
      const entries = Object.entries(severity).filter(([code, s]) => CODE.test(code) && typeof s === 'string' && SEVERITIES.has(s));
      if (entries.length) settings.severity = Object.fromEntries(entries) as Record<string, SeverityOverride>;
    }
    if (Array.isArray(disabled)) {
      const codes = disabled.filter((c): c is string => typeof c === 'string' && CODE.test(c));
      if (codes.length) settings.disabled = codes;
    }
  }
  return settings;
}
