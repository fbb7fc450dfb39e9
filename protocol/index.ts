// The one protocol module shared by the extension client, the language server and the webview.
// Types and method names only: its tsconfig has `"types": []`, so neither Node, vscode nor the LSP
// library can creep in. Every custom message names its direction.

/** Where resolution of one package.json stands. */
export type ResolutionState = 'resolving' | 'idle' | 'error';

/** Figures of the last resolution of one package.json; what the status bar and dashboard show. */
export interface ResolutionSummary {
  /** URI of the package.json. */
  uri: string;
  state: ResolutionState;
  /** Distinct name@version resolved (root excluded); 0 while resolving. */
  packages: number;
  durationMs: number;
  /** Registry requests made and body bytes received. */
  requests: number;
  bytes: number;
  /** Diagnostics published, and how many of them are errors. */
  problems: number;
  errors: number;
  /** Set when state is 'error': why resolution could not run at all. */
  message?: string;
}

/** server → client notification, sent when a resolution starts and when it ends. */
export namespace ResolutionStatusNotification {
  export const method = 'citadel/resolutionStatus';
  export type Params = ResolutionSummary;
}

/** client → server request: resolve one package.json now and return its summary. */
export namespace ResolveRequest {
  export const method = 'citadel/resolve';
  export interface Params {
    /** URI of a package.json. */
    uri: string;
  }
  export type Result = ResolutionSummary;
}

/** client → server request: why a package is in the last resolved tree of a package.json (its chains from the project). */
export namespace WhyRequest {
  export const method = 'citadel/why';
  export interface Params {
    /** URI of a package.json. */
    uri: string;
    /** Package name as installed (the alias for npm: aliases). */
    name: string;
  }
  /** One entry per version of the package in the tree; each chain runs from a direct dependency to the package. Empty: not in the tree. */
  export type Result = { version: string; chains: string[][] }[];
}

/** Extension → dashboard webview. */
export type ToWebview = { type: 'status'; summary: ResolutionSummary };

/** Dashboard webview → extension. */
export type FromWebview = { type: 'ready' } | { type: 'resolve' };
