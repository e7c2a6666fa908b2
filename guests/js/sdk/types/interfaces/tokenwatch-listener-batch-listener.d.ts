declare module 'tokenwatch:listener/batch-listener@0.2.0' {
  /**
   * Handle `events` in arrival order: call `batch.begin(i)`, then the handler of
   * `events[i]`'s kind, for each `i` from 0. The host never sends a kind the listener has
   * no handler for.
   */
  export function tokensIssued(events: Array<IssuedToken>): void;
  /**
   * # Variants
   * 
   * ## `"id-token"`
   * 
   * ## `"access-token"`
   */
  export type TokenKind = 'id-token' | 'access-token';
  /**
   * One queued event: its kind, and the event encoded as for the handlers.
   */
  export interface IssuedToken {
    kind: TokenKind,
    event: Uint8Array,
  }
}
