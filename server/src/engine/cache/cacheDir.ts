// Where Citadel's caches live by default: the OS convention, overridable with CITADEL_CACHE_DIR.
// Its own module so that the CLI launcher can find the cache without loading the engine.
import { homedir } from 'node:os';
import { join } from 'node:path';

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CITADEL_CACHE_DIR) return env.CITADEL_CACHE_DIR;
  if (process.platform === 'win32' && env.LOCALAPPDATA) return join(env.LOCALAPPDATA, 'citadel', 'Cache');
  if (process.platform === 'darwin') return join(env.HOME ?? homedir(), 'Library', 'Caches', 'citadel');
  return join(env.XDG_CACHE_HOME || join(env.HOME ?? homedir(), '.cache'), 'citadel');
}
