// `citadel registry serve|record`: the loopback test registry and the fixture recorder from the CLI.
import { resolve } from 'node:path';
import { once } from 'node:events';
import { DEFAULT_UPSTREAM, recordProject } from '../testRegistry/recorder';
import { startTestRegistry } from '../testRegistry/server';

const DEFAULT_STORE = 'test/fixtures/registry';
const USAGE = `usage: citadel registry serve [--port N] [--latency MS] [--store DIR] [--h2 yes]
       citadel registry record <project dir...> [--store DIR] [--upstream URL]`;

function parse(args: string[]): { positional: string[]; flags: Map<string, string> } {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('--')) positional.push(a);
    else if (a.includes('=')) flags.set(a.slice(2, a.indexOf('=')), a.slice(a.indexOf('=') + 1));
    else flags.set(a.slice(2), args[++i] ?? '');
  }
  return { positional, flags };
}

export async function registryCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  // The main usage sends readers here for these flags: a help flag prints them (it used to start a server).
  if (args.some((a) => a === '--help' || a === '-h')) {
    console.log(USAGE);
    return 0;
  }
  const { positional, flags } = parse(rest);
  const store = resolve(flags.get('store') ?? DEFAULT_STORE);
  if (sub === 'serve') {
    const registry = await startTestRegistry({
      store,
      port: flags.has('port') ? Number(flags.get('port')) : undefined,
      latencyMs: Number(flags.get('latency') ?? 0),
      http2: flags.get('h2') === 'yes',
    });
    console.log(registry.url);
    // The h2c port on a line of its own, after the one readers of the first line take.
    if (registry.h2url) console.log(registry.h2url);
    await once(process, 'SIGINT');
    await registry.close();
    return 0;
  }
  if (sub === 'record' && positional.length > 0) {
    let failed = 0;
    for (const dir of positional) {
      console.log(`recording ${dir}`);
      const runs = await recordProject(resolve(dir), {
        storeDir: store,
        upstream: flags.get('upstream') ?? DEFAULT_UPSTREAM,
        say: (line) => console.log(`  ${line}`),
      });
      // A resolver failing (ERESOLVE on a peer-conflict fixture) is expected; a tool that did not start is not.
      failed += runs.filter((r) => r.rc < 0).length;
    }
    return failed > 0 ? 1 : 0;
  }
  console.error(USAGE);
  return 2;
}
