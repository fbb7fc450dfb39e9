// The CLI's help text, apart from the commands' code: `citadel resolve` loads only what it runs.

export const BENCH_USAGE = `  perf:benchmark        Citadel beside npm, pnpm and bun on the loopback registry (from the repository)
      --comprehensive     every fixture (small, medium, large, monorepo), latency 0,20,50 and every mode
      --fixture small,medium,large,monorepo  --latency 0,20,50  --runs N  --npm-runs N
      --modes cold,cold-history,cold-lock,warm,stale,warm-lock,incremental,hot,incremental-inproc,incremental-version
      --tools citadel,npm,pnpm,bun  --out DIR (default .bench)  --duration SECONDS (stop starting new cells after)
                          (citadel-h2: Citadel over HTTP/2, h2c, to the same registry)
      --concurrency-sweep 8,16,32,64,128,adaptive  only Citadel, cold, per setting on the first fixture
                          (default large) at each latency (default 0,20,50): a table of medians`;
export const PERF_USAGE = `  perf:report [dir] --out FILE   Resolve and write the dashboard as one self-contained HTML file
      --registry URL --concurrency N
  perf:profile-memory [dir]     Resolve repeatedly and report heap growth per iteration with a verdict
      --iterations N (default 10; 30 with --leak-detection)  --live (a line per iteration)
      --graph (draw heap per iteration)  --leak-detection (exit 1 when the heap grows steadily)
      --registry URL --concurrency N`;
export const PERF_SIM_USAGE = `  perf:simulate --fixture F[,F...] --latency L[,L...] --concurrency C|adaptive [--cache warm|cold] [--runs N] [--no-validate] [--json FILE]
                        Discrete-event model of a resolution over the fixtures' recorded graphs, calibrated on
                        cold runs at 0 ms and checked against fresh-process runs of every fixture x latency,
                        with recommendations
  perf:test-resolution --packages N[,N...] [--parallel] [--cache-analysis] [--latency L] [--profile]
                        Generated registries of N packages (100..100000): time and memory vs N, fitted exponent
  perf:load --users N --duration S [--fixture small] [--latency 20] [--concurrency C]
                        N users resolving at once against one loopback registry: throughput and tail latency`;

export const USAGE = `Usage: citadel <command> [options]

Commands:
  resolve [dir]         Resolve the dependency tree of the project in dir (default: .)
      --registry URL      registry to use instead of the one .npmrc names
      --concurrency N     requests in flight (default: maxsockets from .npmrc, else adaptive: from 32,
                          growing like TCP's congestion window up to 256, shrinking on 429, 5xx, resets)
      --http2 auto|off|prior-knowledge  HTTP/2 for registry requests: where an https registry offers
                          it (auto, the default), never (off), or also to http:// ones (h2c)
      --lockfile use|ignore  start from package-lock.json as npm does (default), or resolve fresh
      --json              print one JSON object: { packages, problems, stats }
      --trace FILE        write a Chrome trace of the resolution (Perfetto, chrome://tracing)
      --cache-dir DIR     packument cache (default: $XDG_CACHE_HOME/citadel, i.e. ~/.cache/citadel)
      --prefer-offline    use cached documents whatever their age; fetch only what is missing
      --prefer-online     revalidate every cached document with the registry
      --offline           no network: cached documents only; a missing one is an offline-miss error
  check [dir] [--format text|json|sarif]
                        Every problem of the resolution and the lockfile, with file, line and column,
                        and whether the frozen install (npm ci, ...) would fail; takes resolve's options
  cache info|verify|clear [--cache-dir DIR]
                        Show, check (drop corrupt entries) or empty the packument cache
  perf:analyze-cache [dir] [--hit-rate-target 0.94] [--eviction-analysis] [--prediction-accuracy]
                        Resolve dir twice through a scratch cache and report hit rates per tier
  registry serve        Serve the recorded fixture packuments on 127.0.0.1 (see --help there)
  registry record DIR   Record a project's packument closure into the fixture store
${BENCH_USAGE}
${PERF_USAGE}
${PERF_SIM_USAGE}
  -v, --version         Print Citadel's version

Exit codes: 0 no errors, 1 errors found, 2 bad usage or unreadable input.`;
