declare module 'tokenwatch:listener/access-token-listener@0.2.0' {
  /**
   * An access token was issued. `event` is encoded as for `id-token-issued`; its
   * local subject is always absent.
   */
  export function accessTokenIssued(event: Uint8Array): void;
}
