declare module 'tokenwatch:listener/metrics@0.2.0' {
  /**
   * Add `value` to the counter `name` with `labels`.
   */
  export function counterAdd(name: string, labels: Array<[string, string]>, value: bigint): void;
  /**
   * Set the gauge `name` with `labels` to `value`.
   */
  export function gaugeSet(name: string, labels: Array<[string, string]>, value: number): void;
  export type MetricsError = MetricsErrorInvalid | MetricsErrorTooManySeries | MetricsErrorKindMismatch;
  /**
   * A name or label is not valid; the text says which and why. Metric and label names
   * match `[a-zA-Z_][a-zA-Z0-9_]*` (at most 64 bytes), label values at most 256 bytes,
   * at most 8 labels, none named `listener`; a gauge value is finite.
   */
  export interface MetricsErrorInvalid {
    tag: 'invalid',
    val: string,
  }
  /**
   * This listener has used its label sets for this name, or its names (the limit).
   */
  export interface MetricsErrorTooManySeries {
    tag: 'too-many-series',
    val: number,
  }
  /**
   * The name is already a metric of the other kind (a counter used as a gauge).
   */
  export interface MetricsErrorKindMismatch {
    tag: 'kind-mismatch',
    val: string,
  }
}
