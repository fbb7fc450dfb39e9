// typescript-eslint's recommended rules, plus the layering the architecture depends on:
// the engine imports neither VS Code nor the LSP library; only the client (and its in-host tests) import vscode.
import tseslint from 'typescript-eslint';

const noVscode = { name: 'vscode', message: 'Only client/ talks to the VS Code API.' };
const noLsp = ['vscode-languageserver', 'vscode-languageserver/*', 'vscode-languageclient', 'vscode-languageclient/*', 'vscode-jsonrpc', 'vscode-jsonrpc/*'];

export default tseslint.config(
  { ignores: ['dist/', 'out/', 'node_modules/', '.tools/', '.bench/', 'test/fixtures/'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  // One namespace per custom message, as vscode-languageserver-node declares its protocol.
  { files: ['protocol/**/*.ts'], rules: { '@typescript-eslint/no-namespace': 'off' } },
  // In-host tests see the vscode module only as an ambient declaration.
  { files: ['test/vscode/**/*.ts'], rules: { '@typescript-eslint/triple-slash-reference': 'off' } },
  {
    files: ['server/**/*.ts', 'webview/**/*.ts', 'protocol/**/*.ts', 'test/**/*.ts'],
    ignores: ['test/vscode/**'],
    rules: { 'no-restricted-imports': ['error', { paths: [noVscode] }] },
  },
  {
    files: ['server/src/engine/**/*.ts', 'server/src/cli/**/*.ts', 'protocol/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [noVscode], patterns: [{ group: noLsp, message: 'The engine and CLI are editor-free; the LSP layer lives in server/src/lsp and server.ts.' }] },
      ],
    },
  },
);
