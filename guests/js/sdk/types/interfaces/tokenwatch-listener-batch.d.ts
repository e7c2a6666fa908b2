declare module 'tokenwatch:listener/batch@0.2.0' {
  /**
   * Event `index` of the current batch starts now. From here the event has its own budgets
   * (fuel, deadline, log lines, signatures, messages), as if it were a call of its own, and a
   * trap is charged to it alone: the events before it were delivered, the events after it go
   * to a fresh instance. Indices must increase and stay below the batch's length, and the
   * call is only valid inside `tokens-issued`; anything else traps.
   */
  export function begin(index: number): void;
}
