// `citadel check`: every problem of a resolution and its lockfile, placed in its file, as text for
// people, JSON for tools and SARIF 2.1.0 for code scanning, with the frozen-install verdict.
import { relative } from 'node:path';
import { findNodeAtLocation, parseTree } from 'jsonc-parser';
import type { ProjectManifest } from '../engine/api';
import { analyze } from '../engine/analysis';
import { verdict } from '../engine/lockfile';
import { lineColumn, type ProjectResult } from '../engine/project';
import type { Problem } from '../engine/types';

interface Placed extends Problem {
  file: string;
  line: number;
  column: number;
}

const MANIFEST_CODES = new Set(['lockfile-drift', 'lockfile-missing-entry']);
const SECTIONS = ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'];
const HELP = 'https://github.com/citadel/citadel#problem-codes';

/** Where in package.json a problem belongs: its dependency's entry, or the direct dependency that brings it in. */
function placeInManifest(text: string, p: Problem): { line: number; column: number } {
  const target = p.package === '' || !p.path?.length ? p.name : p.path[0];
  const tree = parseTree(text);
  if (target && tree) {
    for (const section of SECTIONS) {
      const node = findNodeAtLocation(tree, [section, target]);
      if (node?.parent) return lineColumn(text, node.parent.offset);
    }
  }
  return { line: 1, column: 1 };
}

export function checkReport(dir: string, result: ProjectResult) {
  const manifestFile = 'package.json';
  const problems = [...result.problems, ...analyze({ result, manifest: JSON.parse(result.manifestText) as ProjectManifest })];
  const placed: Placed[] = problems.map((p) => {
    const at = p as Partial<Placed>;
    const lockFile = at.file && (relative(dir, at.file) || at.file);
    // A drifted or missing entry is fixed in package.json (or by reinstalling): point there, name the lock line.
    if (lockFile && at.line && !MANIFEST_CODES.has(p.code)) return { ...p, file: lockFile, line: at.line, column: at.column ?? 1 };
    const message = lockFile && at.line ? `${p.message} (${lockFile}:${at.line})` : p.message;
    return { ...p, message, file: manifestFile, ...placeInManifest(result.manifestText, p) };
  });
  placed.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
  const errors = placed.filter((p) => p.severity === 'error').length;
  const lockVerdict = result.lockfile ? verdict(result.lockfile.kind, placed) : undefined;

  const lines: string[] = [];
  let file = '';
  for (const p of placed) {
    if (p.file !== file) {
      file = p.file;
      lines.push(file);
    }
    lines.push(`  ${p.line}:${p.column}  ${p.severity.padEnd(7)} ${p.code}  ${p.message}`);
  }
  const counts = ['error', 'warning', 'info', 'hint'].map((s) => [s, placed.filter((p) => p.severity === s).length] as const).filter(([, n]) => n);
  lines.push('', counts.length ? counts.map(([s, n]) => `${n} ${s}${n === 1 ? '' : 's'}`).join(', ') : 'No problems.');
  if (lockVerdict) lines.push(lockVerdict);

  const rules = [...new Set(placed.map((p) => p.code))].sort();
  const sarif = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'citadel',
            informationUri: 'https://github.com/citadel/citadel',
            rules: rules.map((id) => ({ id, shortDescription: { text: id.replace(/-/g, ' ') }, helpUri: `${HELP}` })),
          },
        },
        results: placed.map((p) => ({
          ruleId: p.code,
          level: p.severity === 'error' ? 'error' : p.severity === 'warning' ? 'warning' : 'note',
          message: { text: p.message },
          locations: [{ physicalLocation: { artifactLocation: { uri: p.file.split('\\').join('/') }, region: { startLine: p.line, startColumn: p.column } } }],
        })),
      },
    ],
  };
  return {
    errors,
    text: lines.join('\n'),
    json: { problems: placed, verdict: lockVerdict ?? null, stats: result.stats },
    sarif,
  };
}
