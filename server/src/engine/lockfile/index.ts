// Lockfile readers and drift checks: the engine's view of what a project's package manager has locked.
export * from './model';
export { lockfileKind, parseLockfile, readLockfile, yarnKind } from './read';
export { checkDrift, checkLockfile, verdict, type DriftOptions, type PackumentLookup } from './drift';
