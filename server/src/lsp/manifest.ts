// Where things are in a package.json's text: parse errors, dependency entries, and what a position
// points at. Offsets only; the caller converts them to LSP positions with its TextDocument.
import { findNodeAtLocation, getLocation, parseTree, printParseErrorCode, type Node, type ParseError } from 'jsonc-parser';

/** Sections whose entries are dependency edges, in the order a name is looked up in. */
export const DEPENDENCY_SECTIONS = ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'] as const;

export interface Span {
  offset: number;
  length: number;
}

export type ParsedManifest =
  | { ok: true; tree: Node }
  | { ok: false; error: Span & { message: string } };

/** package.json is strict JSON (npm rejects comments and trailing commas), and its top level an object. */
export function parseManifest(text: string): ParsedManifest {
  const errors: ParseError[] = [];
  const tree = parseTree(text, errors, { disallowComments: true, allowTrailingComma: false });
  const first = errors[0];
  if (first) {
    return { ok: false, error: { offset: first.offset, length: first.length, message: `Invalid JSON: ${printParseErrorCode(first.error)}` } };
  }
  if (!tree || tree.type !== 'object') {
    return { ok: false, error: { offset: tree?.offset ?? 0, length: tree?.length ?? 0, message: 'package.json must contain a JSON object' } };
  }
  return { ok: true, tree };
}

/** The `"name": "spec"` entry of a dependency in the first section that lists it. */
export function dependencySpan(tree: Node, name: string): Span | undefined {
  for (const section of DEPENDENCY_SECTIONS) {
    const property = findNodeAtLocation(tree, [section, name])?.parent;
    if (property) return { offset: property.offset, length: property.length };
  }
  return undefined;
}

export interface DependencyAt extends Span {
  section: string;
  name: string;
  spec: string;
}

/** The dependency entry under the cursor (on its name or its spec), if any. */
export function dependencyAt(text: string, tree: Node, offset: number): DependencyAt | undefined {
  const { path } = getLocation(text, offset);
  const [section, name] = path;
  if (path.length !== 2 || typeof name !== 'string' || !DEPENDENCY_SECTIONS.some((s) => s === section)) return undefined;
  const value = findNodeAtLocation(tree, [section, name]);
  const property = value?.parent;
  if (!value || !property || value.type !== 'string') return undefined;
  return { section: String(section), name, spec: String(value.value), offset: property.offset, length: property.length };
}
