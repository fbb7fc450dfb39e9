// The package's version: scripts/build.mjs defines CITADEL_VERSION from package.json in every build.
declare const CITADEL_VERSION: string;
export const VERSION: string = CITADEL_VERSION;
