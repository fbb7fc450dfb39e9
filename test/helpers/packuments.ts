// Generated registries: a store of documents built in the test, for the loopback test registry.
import type { Packument } from '../../server/src/engine/types';
import type { PackumentStore } from '../../server/src/testRegistry/store';

export function memoryStore(docs: Packument[]): PackumentStore {
  const byName = new Map(docs.map((d) => [d.name, d]));
  return { packument: async (name) => byName.get(name), tarball: async () => undefined };
}

/** A document with these versions (each with its dependencies) and `latest`. */
export function mk(name: string, versions: Record<string, Record<string, string>>, latest: string): Packument {
  return {
    name,
    'dist-tags': { latest },
    versions: Object.fromEntries(
      Object.entries(versions).map(([v, deps]) => [v, { name, version: v, dependencies: deps, dist: { integrity: `sha512-${name}${v}`, tarball: `x/${name}-${v}.tgz` } }]),
    ),
  };
}
