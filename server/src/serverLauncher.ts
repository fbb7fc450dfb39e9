// dist/server.js, the language server's entry: loads its bundle (server-main.js, which starts the
// server) through V8's code cache (see codeCache.ts). The cache is written half a second in, once:
// the start and the answer to `initialize` have been compiled by then (and whatever a first
// resolution has reached), and nothing has run long enough to be flushed.
import { loadCached } from './codeCache';

const SAVE_AFTER_MS = 500;
loadCached('server-main', 'utf8', (save) => setTimeout(save, SAVE_AFTER_MS).unref());
