// TypeScript declarations of the tokenwatch JavaScript SDK (tokenwatch.js), contract
// tokenwatch:listener@0.2.0. The WIT-level types come from types/, generated from
// wit/listener.wit by `jco guest-types` (scripts/build-guests-js.sh keeps them in step).
/// <reference path="./types/all-tokens.d.ts" />

import type { Level } from 'tokenwatch:listener/log@0.2.0';
import type { SignError as WitSignError } from 'tokenwatch:listener/signer@0.2.0';
import type { PublishError as WitPublishError } from 'tokenwatch:listener/publish@0.2.0';
import type { MetricsError as WitMetricsError } from 'tokenwatch:listener/metrics@0.2.0';
import type * as Lifecycle from 'tokenwatch:listener/lifecycle@0.2.0';
import type * as IdTokenListenerExport from 'tokenwatch:listener/id-token-listener@0.2.0';
import type * as AccessTokenListenerExport from 'tokenwatch:listener/access-token-listener@0.2.0';
import type * as BatchListenerExport from 'tokenwatch:listener/batch-listener@0.2.0';

/** The host log; lines are tagged with the listener's name (4 KiB and 64 lines per call). */
export declare const log: {
  log(level: Level, message: unknown): void;
  trace(message: unknown): void;
  debug(message: unknown): void;
  info(message: unknown): void;
  warn(message: unknown): void;
  error(message: unknown): void;
};

/** This listener's configuration properties, readable at any time. */
export declare const config: {
  get(key: string): string | undefined;
  /** All properties, sorted by key. */
  properties(): Map<string, string>;
};

/** A host call answered with an error variant of the WIT. */
declare class HostCallError<V extends { tag: string; val?: unknown }> extends Error {
  /** The case, as named in the WIT (`'queue-full'`). */
  readonly tag: V['tag'];
  /** Its value, when it has one. */
  readonly val: V extends { val: infer T } ? T : undefined;
}
export declare class SignError extends HostCallError<WitSignError> {}
export declare class PublishError extends HostCallError<WitPublishError> {}
export declare class MetricsError extends HostCallError<WitMetricsError> {}

/** SET signing by the host (RFC 8417); the key never enters the guest. */
export declare const signer: {
  /** Returns the compact JWS. Throws `SignError`. */
  signSet(claims: string | object, audience?: string): string;
};

/** Enqueue a message (a string, or any value as its JSON text) for a granted sink. Throws `PublishError`. */
export declare function publish(sink: string, message: string | object): void;

export type Labels = Record<string, string> | Map<string, string> | Array<[string, string]>;

/** Counters and gauges exposed as `guest_<name>`. Throws `MetricsError`. */
export declare const metrics: {
  counterAdd(name: string, labels?: Labels, value?: number | bigint): void;
  gaugeSet(name: string, labels: Labels | undefined, value: number): void;
};

/** Decoders of claim JSON text (what the typed accessors of `Claims` use). */
export declare const json: {
  members(objectText: string): Array<[string, string]>;
  member(objectText: string | undefined, name: string): string | undefined;
  parseStr(text: string | undefined): string | undefined;
  parseInt(text: string | undefined): number | undefined;
  parseBigInt(text: string | undefined): bigint | undefined;
  parseBool(text: string | undefined): boolean | undefined;
  parseStrings(text: string | undefined): string[] | undefined;
  /** As the Rust SDK's json::quote: `"` and `\` escaped, control characters as \u00XX. */
  quote(s: string): string;
};

/** The declared claims of an issued token. Valid during the handler call only. */
export declare class Claims {
  private constructor();
  /** The claim's JSON text exactly as issued; undefined when absent or not declared. */
  get(name: string): string | undefined;
  has(name: string): boolean;
  names(): string[];
  toJson(): string;
  toObject(): Record<string, unknown>;
  getStr(name: string): string | undefined;
  /** An integer in the safe range of a number. */
  getInt(name: string): number | undefined;
  /** An integer that fits 64 bits. */
  getBigInt(name: string): bigint | undefined;
  getBool(name: string): boolean | undefined;
  getStrings(name: string): string[] | undefined;
  subject(): string | undefined;
  issuer(): string | undefined;
  audience(): string[];
  issuedAt(): number | undefined;
  expiresAt(): number | undefined;
  clientId(): string | undefined;
  scope(): string | undefined;
  jwtId(): string | undefined;
  acr(): string | undefined;
  amr(): string[] | undefined;
  authTime(): number | undefined;
}

/** The context a token was issued in. */
export declare class EventContext {
  private constructor();
  readonly issuer: string;
  /** '' when unknown. */
  readonly clientId: string;
  /** The client's RFC 7591 metadata (JSON object text) when declared. */
  readonly clientMetadata: string | undefined;
}

export declare class IdTokenEvent {
  private constructor();
  readonly claims: Claims;
  /** The local subject when `sub` is pairwise. */
  readonly localSubject: string | undefined;
}

export declare class AccessTokenEvent {
  private constructor();
  readonly claims: Claims;
}

/** Splits an event for a listener that declared `declared` (undefined: all claims). */
export declare function decodeEvent(
  bytes: Uint8Array,
  declared: string[] | undefined,
): { context: EventContext; localSubject: [number, number] | undefined; claims: Claims };

/** What a listener reads and accepts (the WIT record `declaration`). */
export declare class Declaration implements Lifecycle.Declaration {
  constructor(claims?: Iterable<string>, clientMetadata?: boolean, properties?: Iterable<string>);
  readonly claims?: string[];
  readonly clientMetadata: boolean;
  readonly properties?: string[];
  static claims(names: Iterable<string>): Declaration;
  static noClaims(): Declaration;
  static allClaims(): Declaration;
  withClientMetadata(): Declaration;
  withProperties(keys: Iterable<string>): Declaration;
  noProperties(): Declaration;
}

/** Thrown from `init` to refuse to start (init-failed, with this message). */
export declare class InitError extends Error {}

/** The lifecycle; every method has a default. */
export declare class Listener {
  init(properties: Map<string, string>): void;
  declare(): Declaration | Lifecycle.Declaration;
  isEnabled(): boolean;
  shutdown(): void;
}

export interface IdTokenHandler {
  idTokenIssued(event: IdTokenEvent, ctx: EventContext): void;
}
export interface AccessTokenHandler {
  accessTokenIssued(event: AccessTokenEvent, ctx: EventContext): void;
}

type Lifecycles = { lifecycle: typeof Lifecycle; batchListener: typeof BatchListenerExport };

/** World id-token-only. */
export declare function exportIdTokenListener(c: new () => Listener & IdTokenHandler): Lifecycles & {
  idTokenListener: typeof IdTokenListenerExport;
};
/** World access-token-only. */
export declare function exportAccessTokenListener(c: new () => Listener & AccessTokenHandler): Lifecycles & {
  accessTokenListener: typeof AccessTokenListenerExport;
};
/** World all-tokens. */
export declare function exportListener(c: new () => Listener & IdTokenHandler & AccessTokenHandler): Lifecycles & {
  idTokenListener: typeof IdTokenListenerExport;
  accessTokenListener: typeof AccessTokenListenerExport;
};
