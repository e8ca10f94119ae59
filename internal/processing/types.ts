/**
 * Processing rules (issue 15): what a namespace declares under `rules`, as parsed
 * from the namespaces file. Expressions are JSONata source text here; compile.ts
 * turns a list of these into runnable rules or a list of errors.
 *
 * Every expression sees the event's `data` as its input and these bindings:
 * `$id` (event id), `$channel`, `$tokens` (the channel split on dots, 0-based).
 * A channel template is literal text with `{expression}` parts, e.g.
 * `alerts.iot.{$tokens[2]}`; each part must evaluate to a string or number.
 */

/** Keep only events for which `filter` is true; the others stop here or go to `divert`. */
export interface FilterRule {
  name: string;
  filter: string;
  /** Channel template for events the filter rejects; without it they are dropped. */
  divert?: string;
}

/** Replace `data` by the expression's result for the following rules and the output. */
export interface TransformRule {
  name: string;
  transform: string;
}

/** Publish a new event computed from this one; the event itself continues unchanged. */
export interface DeriveRule {
  name: string;
  derive: {
    channel: string;
    /** The new event's data; the current data when absent. */
    data?: string;
    /** Only derive when true. */
    when?: string;
  };
}

export type WindowType = "tumbling" | "hopping" | "session";
export type LatePolicy = "route" | "update";

/** `count()`, `sum(x)`, `min(x)`, `max(x)`, `avg(x)`, `p95(x)` / `p99.9(x)` (tdigest). */
export type AggregateSpec = string;

export interface WindowRule {
  name: string;
  window: {
    type: WindowType;
    /** Tumbling and hopping: window length. */
    size?: string;
    /** Hopping: distance between window starts (size must be a multiple of it). */
    hop?: string;
    /** Session: a window ends this long after its last event. */
    gap?: string;
    /** Groups events; its value (string or number) becomes `key` in ids and outputs. */
    key: string;
    /** Event time: epoch milliseconds or an ISO 8601 string. */
    time: string;
    /** How far event time may go back behind the highest seen before a window closes. */
    lateness: string;
    /**
     * How far event time may be ahead of the server's receive time (the envelope's
     * `ts`) before the event is refused as `future` (default 1m): one publisher's
     * clock set to next year would otherwise close every window at once.
     */
    maxAhead?: string;
    /** Output field name -> aggregate, e.g. `{ count: "count()", avg: "avg(temperature)" }`. */
    aggregates: Record<string, AggregateSpec>;
    /** Name of the key's field in the result (default `key`). */
    keyAs?: string;
    /** Channel template for results; sees the result as input. */
    channel: string;
    late: {
      /** route: a late event goes to `channel`; update: its window's result is re-emitted. */
      policy: LatePolicy;
      /** Where late events go (always needed: update routes what is past `retain`). */
      channel: string;
      /** update: how long after closing a window still takes corrections (default: lateness). */
      retain?: string;
    };
  };
}

/**
 * Hysteresis alert: fires once when `value` goes above `above`, clears once when it
 * is back at or below `clearBelow` (default `above`). On events at this point of the
 * list, or on the results of window rule `on`.
 */
export interface AlertRule {
  name: string;
  alert: {
    on?: string;
    value: string;
    above: number;
    clearBelow?: number;
    /** Alert state is kept per key; events: required, window results: the window's key. */
    key?: string;
    channel: string;
  };
}

export type RuleConfig = FilterRule | TransformRule | DeriveRule | WindowRule | AlertRule;

/** Caps on engine state (security rule: every buffer has a bound). */
export interface ProcessingLimits {
  /** Open keys per window rule and alert states per alert rule. */
  maxKeys: number;
  /** Open (and retained) windows per key. */
  maxWindowsPerKey: number;
  /** Distinct event ids (and values) per window. */
  maxEventsPerWindow: number;
  /**
   * Event ids (and values) held by one window rule over all its windows: what bounds
   * memory and snapshot size (about 40 bytes each in a snapshot).
   */
  maxStoredEvents: number;
}

export const DEFAULT_PROCESSING_LIMITS: ProcessingLimits = {
  maxKeys: 10_000,
  maxWindowsPerKey: 64,
  maxEventsPerWindow: 10_000,
  maxStoredEvents: 100_000,
};
