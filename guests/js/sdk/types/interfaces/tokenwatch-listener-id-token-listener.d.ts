declare module 'tokenwatch:listener/id-token-listener@0.2.0' {
  /**
   * An ID token was issued. `event` is the token and its context in the event encoding:
   * 
   * ```text
   * event  = issuer client-id local-subject client-metadata claims
   * field  = len:u32le bytes[len]      (UTF-8 text)
   *        | 0xffffffff                (absent)
   * issuer          = field            the issuer URL (the SPI's EventContext)
   * client-id       = field            the client's `client_id`; empty when unknown
   * local-subject   = field            the local subject when `sub` is pairwise, else absent
   * client-metadata = field            the client's RFC 7591 metadata as a JSON object when
   *                                    declared, else absent
   * claims          = field * N        the N declared claims in declared order, each its
   *                                    JSON text as issued, absent when the token lacks it
   *                 | field            no claims declared: the whole claims set, one object
   * ```
   * 
   * The SDKs decode it; a listener author writes `claims.sub()`, not byte offsets.
   */
  export function idTokenIssued(event: Uint8Array): void;
}
