// What the collector measures about its own process: memory, CPU, event-loop delay and GC pauses.
// Behind an interface so collector tests can feed known figures.
import { monitorEventLoopDelay, PerformanceObserver, type IntervalHistogram } from 'node:perf_hooks';

export interface ProcessReading {
  rssMb: number;
  heapUsedMb: number;
  externalMb: number;
  cpuPercent: number;
  eventLoopP99Ms: number;
  gcMs: number;
}

export interface SystemProbe {
  /** Figures since the previous read (CPU, event loop, GC) or now (memory). */
  read(): ProcessReading;
  dispose(): void;
}

const MB = 1024 * 1024;

export function createSystemProbe(): SystemProbe {
  let cpu = process.cpuUsage();
  let at = performance.now();
  let gcMs = 0;
  // 20 ms resolution: fine enough for a 100 ms alert threshold, cheap enough for the 2% budget.
  const loop: IntervalHistogram = monitorEventLoopDelay({ resolution: 20 });
  loop.enable();
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcMs += entry.duration;
  });
  try {
    gc.observe({ entryTypes: ['gc'] });
  } catch {
    // No gc entries on this runtime: gcMs stays 0.
  }
  return {
    read() {
      const now = performance.now();
      // One getrusage a read (each took ~0.2 ms in profiles of a busy language server).
      const total = process.cpuUsage();
      const used = { user: total.user - cpu.user, system: total.system - cpu.system };
      cpu = total;
      const elapsedMs = Math.max(1, now - at);
      at = now;
      const m = process.memoryUsage();
      const reading: ProcessReading = {
        rssMb: m.rss / MB,
        heapUsedMb: m.heapUsed / MB,
        externalMb: m.external / MB,
        cpuPercent: ((used.user + used.system) / 1000 / elapsedMs) * 100,
        eventLoopP99Ms: loop.count > 0 ? loop.percentile(99) / 1e6 : 0,
        gcMs,
      };
      loop.reset();
      gcMs = 0;
      return reading;
    },
    dispose() {
      loop.disable();
      gc.disconnect();
    },
  };
}
