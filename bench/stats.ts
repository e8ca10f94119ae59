/**
 * Pure figures for the bench: percentiles, rates, ratios. No I/O, so the tap test can check
 * them.
 */

export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

/**
 * Nearest-rank percentile of an ascending array: the smallest sample such that
 * at least p % of the samples are at or below it. Nearest rank never invents a
 * value between two samples, so a p999 of 1000 samples is the worst but one.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  if (!(p > 0)) return sorted[0];
  if (p >= 100) return sorted[sorted.length - 1];
  // The epsilon keeps float error (0.999 * 1000 = 999.0000000000001) from moving the rank up one.
  const rank = Math.ceil((p * sorted.length) / 100 - 1e-9);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export function summarize(samples: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted.length > 0 ? sorted[sorted.length - 1] : NaN,
  };
}

export function perSecond(count: number, ms: number): number {
  return ms > 0 ? (count * 1000) / ms : 0;
}

/**
 * a / b, or null when either side is missing or b is zero, so a table shows "n/a" instead of
 * Infinity.
 */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  // A negative measure (a noisy difference) or a reference at or below zero has no meaningful
  // ratio.
  if (a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || a < 0 || b <= 0) {
    return null;
  }
  return a / b;
}

/** 12345 → "12.3k", 1234567 → "1.23M": rates stay readable in a narrow table. */
export function fmtCount(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return "n/a";
  const abs = Math.abs(n);
  if (abs >= 1e6) return `${(n / 1e6).toPrecision(3)}M`;
  if (abs >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  if (abs >= 1e3) return `${(n / 1e3).toFixed(2)}k`;
  return abs >= 100 ? n.toFixed(0) : n.toPrecision(3);
}

export function fmtMs(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms)) return "n/a";
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

export function fmtBytes(b: number | null | undefined): string {
  if (b == null || !Number.isFinite(b)) return "n/a";
  const abs = Math.abs(b);
  if (abs >= 1 << 20) return `${(b / (1 << 20)).toFixed(1)} MiB`;
  if (abs >= 1 << 10) return `${(b / (1 << 10)).toFixed(2)} KiB`;
  return `${b.toFixed(0)} B`;
}

export function fmtRatio(r: number | null | undefined): string {
  return r == null || !Number.isFinite(r) ? "n/a" : `${(r * 100).toFixed(0)} %`;
}

/** CPU share from two readings of a process's (or the machine's) clock ticks. */
export function cpuShare(
  ticksBefore: number,
  ticksAfter: number,
  ticksPerSec: number,
  ms: number,
): number {
  return ms > 0 ? (ticksAfter - ticksBefore) / ticksPerSec / (ms / 1000) : 0;
}

/**
 * The median of the slopes between consecutive points: a growth rate that one
 * step up or down (an allocator handing pages back, a heap or table growing
 * once) does not move, where a least-squares slope tilts towards it.
 */
export function medianStepSlope(points: ReadonlyArray<readonly [number, number]>): number {
  const steps: number[] = [];
  for (let i = 1; i < points.length; i++) {
    const dx = points[i][0] - points[i - 1][0];
    if (dx !== 0) steps.push((points[i][1] - points[i - 1][1]) / dx);
  }
  if (steps.length === 0) return NaN;
  steps.sort((a, b) => a - b);
  const mid = steps.length >> 1;
  return steps.length % 2 === 1 ? steps[mid] : (steps[mid - 1] + steps[mid]) / 2;
}
