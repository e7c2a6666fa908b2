declare module 'tokenwatch:listener/signer@0.2.0' {
  /**
   * Sign a SET. `claims` is a JSON object holding `events` (a non-empty object whose keys
   * are event type URIs and values are objects) and optionally `sub`, `sub_id`, `txn`,
   * `toe`; the host sets `iss`, `iat` and `jti`. `audience` picks one of the audiences
   * configured for this listener (none: all of them). Returns the compact JWS.
   */
  export function signSet(claims: string, audience: string | undefined): string;
  /**
   * Why the host would not sign.
   */
  export type SignError = SignErrorNoKeyConfigured | SignErrorRefused | SignErrorQuotaExceeded | SignErrorTooLarge | SignErrorAudienceNotAllowed;
  /**
   * The host has no signing key configured.
   */
  export interface SignErrorNoKeyConfigured {
    tag: 'no-key-configured',
  }
  /**
   * The SET content breaks the host's SET policy; the text names the rule and claim.
   */
  export interface SignErrorRefused {
    tag: 'refused',
    val: string,
  }
  /**
   * The per-event signature quota of this listener is used up.
   */
  export interface SignErrorQuotaExceeded {
    tag: 'quota-exceeded',
  }
  /**
   * The SET content is larger than the host's cap (the number, in bytes). Content
   * over the host's per-call transfer cap (1 MiB by default) is not read at all: the
   * call traps.
   */
  export interface SignErrorTooLarge {
    tag: 'too-large',
    val: number,
  }
  /**
   * `audience` is not one of the audiences configured for this listener.
   */
  export interface SignErrorAudienceNotAllowed {
    tag: 'audience-not-allowed',
    val: string,
  }
}
