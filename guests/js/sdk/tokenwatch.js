// JavaScript SDK for tokenwatch listeners, contract tokenwatch:listener@0.2.0
// (wit/listener.wit), built into a component with componentize-js.
//
// A listener is a class that extends `Listener` (lifecycle, every method defaulted) and
// defines `idTokenIssued(event, ctx)`, `accessTokenIssued(event, ctx)` or both. The entry
// module exports it with the one function that matches, which also picks the WIT world:
//
//   | Defines                       | Export with                      | World               |
//   |-------------------------------|----------------------------------|---------------------|
//   | idTokenIssued                 | exportIdTokenListener(C)         | id-token-only       |
//   | accessTokenIssued             | exportAccessTokenListener(C)     | access-token-only   |
//   | both                          | exportListener(C)                | all-tokens          |
//
//   export const { lifecycle, idTokenListener, batchListener } = exportIdTokenListener(SignInAudit);
//
// A wrong pairing throws while the module is evaluated, which is at build time
// (componentize-js runs the top level of the module then): the build fails with the message.
//
// The event reaches a handler as one Uint8Array in the event encoding of the WIT; the SDK
// decodes it lazily into `event.claims` (a `Claims`), `event.localSubject` and `ctx` (an
// `EventContext`). An exception that escapes the listener is logged at `error` (message and
// first stack frame; the whole stack at `debug` before it) and then traps the call (cause
// `panic`), so the host shows that line as the trap's message.

import { log as hostLog } from 'tokenwatch:listener/log@0.2.0';
import { get as configGet, properties as configProperties } from 'tokenwatch:listener/config@0.2.0';
import { signSet as hostSignSet } from 'tokenwatch:listener/signer@0.2.0';
import { publish as hostPublish } from 'tokenwatch:listener/publish@0.2.0';
import { counterAdd as hostCounterAdd, gaugeSet as hostGaugeSet } from 'tokenwatch:listener/metrics@0.2.0';
import { begin as batchBegin } from 'tokenwatch:listener/batch@0.2.0';

// --- host imports -------------------------------------------------------------------------

/** The host log; lines are tagged with the listener's name. The host cuts a message to 4 KiB
 * and keeps 64 lines per call. */
export const log = {
  log(level, message) { hostLog(level, String(message)); },
  trace(message) { hostLog('trace', String(message)); },
  debug(message) { hostLog('debug', String(message)); },
  info(message) { hostLog('info', String(message)); },
  warn(message) { hostLog('warn', String(message)); },
  error(message) { hostLog('error', String(message)); },
};

/** This listener's configuration properties, readable at any time. */
export const config = {
  /** One property, or undefined. */
  get(key) { return configGet(key); },
  /** All properties as a Map, sorted by key. */
  properties() { return new Map(configProperties()); },
};

/** The variant a failed host call was answered with (`{ tag, val }`), whatever the bindings
 * threw it as (a ComponentError holding it as `payload`, or the variant itself). */
function variantOf(e) {
  if (e && typeof e === 'object') {
    if ('payload' in e && e.payload && typeof e.payload === 'object' && 'tag' in e.payload) return e.payload;
    if ('tag' in e) return e;
  }
  return undefined;
}

/** A host call answered with an error variant: `tag` names the case (as in the WIT, such as
 * `'queue-full'`), `val` holds its value when it has one. */
class HostCallError extends Error {
  constructor(what, variant) {
    const detail = variant.val === undefined ? variant.tag : `${variant.tag} (${variant.val})`;
    super(`${what}: ${detail}`);
    this.tag = variant.tag;
    this.val = variant.val;
  }
}

/** Thrown by `signer.signSet`: `no-key-configured`, `refused` (val: the rule), `quota-exceeded`,
 * `too-large` (val: the cap), `audience-not-allowed` (val: the audience). */
export class SignError extends HostCallError {}
/** Thrown by `publish`: `unknown-sink` (val: the sink), `too-large` (val: the cap), `queue-full`. */
export class PublishError extends HostCallError {}
/** Thrown by `metrics`: `invalid` (val: why), `too-many-series` (val: the limit),
 * `kind-mismatch` (val: the name). */
export class MetricsError extends HostCallError {}

function hostCall(ErrorClass, what, f) {
  try {
    return f();
  } catch (e) {
    const variant = variantOf(e);
    if (variant) throw new ErrorClass(what, variant);
    throw e;
  }
}

/** Security Event Token signing by the host (the key never enters the guest). */
export const signer = {
  /** Sign a SET: `claims` is a JSON text or an object holding `events` (and optionally `sub`,
   * `sub_id`, `txn`, `toe`); `audience` picks one configured audience, none means all.
   * Returns the compact JWS; throws a `SignError`. */
  signSet(claims, audience) {
    const text = typeof claims === 'string' ? claims : JSON.stringify(claims);
    return hostCall(SignError, 'sign-set', () => hostSignSet(text, audience ?? undefined));
  },
};

/** Enqueue `message` (a string, or any value, sent as its JSON text) for the sink named
 * `sink` granted to this listener. Throws a `PublishError`. */
export function publish(sink, message) {
  const text = typeof message === 'string' ? message : JSON.stringify(message);
  hostCall(PublishError, `publish to sink "${sink}"`, () => hostPublish(sink, text));
}

function labelPairs(labels) {
  if (!labels) return [];
  const entries = labels instanceof Map ? [...labels] : Array.isArray(labels) ? labels : Object.entries(labels);
  return entries.map(([k, v]) => [String(k), String(v)]);
}

/** Counters and gauges the host exposes as `guest_<name>` (Prometheus text format). Labels are
 * an object, a Map or a list of pairs. Throws a `MetricsError`. */
export const metrics = {
  counterAdd(name, labels, value = 1) {
    const n = typeof value === 'bigint' ? value : BigInt(value);
    hostCall(MetricsError, `counter ${name}`, () => hostCounterAdd(name, labelPairs(labels), n));
  },
  gaugeSet(name, labels, value) {
    hostCall(MetricsError, `gauge ${name}`, () => hostGaugeSet(name, labelPairs(labels), Number(value)));
  },
};

// --- JSON text helpers --------------------------------------------------------------------

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

function skipWs(s, i) {
  while (i < s.length && WS.has(s.charCodeAt(i))) i++;
  return i;
}

/** The end of the JSON string starting at `i` (a quote), just past its closing quote; -1 when
 * it is not closed. */
function stringEnd(s, i) {
  for (i++; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x22) return i + 1;
  }
  return -1;
}

/** The end of the JSON value starting at `i`; -1 when malformed. */
function valueEnd(s, i) {
  const c = s.charCodeAt(i);
  if (c === 0x22) return stringEnd(s, i);
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    for (; i < s.length; i++) {
      const d = s.charCodeAt(i);
      if (d === 0x22) {
        i = stringEnd(s, i);
        if (i < 0) return -1;
        i--;
      } else if (d === 0x7b || d === 0x5b) depth++;
      else if (d === 0x7d || d === 0x5d) {
        if (--depth === 0) return i + 1;
      }
    }
    return -1;
  }
  // A scalar: up to the next delimiter.
  while (i < s.length) {
    const d = s.charCodeAt(i);
    if (d === 0x2c || d === 0x7d || d === 0x5d || WS.has(d)) break;
    i++;
  }
  return i;
}

/** The top-level members of the JSON object `text`, as [name (unescaped), value text as
 * issued], in order. Stops at the first malformed member. */
function members(text) {
  const out = [];
  let i = skipWs(text, 0);
  if (text.charCodeAt(i) !== 0x7b) return out;
  i = skipWs(text, i + 1);
  while (i < text.length && text.charCodeAt(i) === 0x22) {
    const nameEnd = stringEnd(text, i);
    if (nameEnd < 0) break;
    let name;
    try {
      name = JSON.parse(text.slice(i, nameEnd));
    } catch {
      break;
    }
    i = skipWs(text, nameEnd);
    if (text.charCodeAt(i) !== 0x3a) break;
    i = skipWs(text, i + 1);
    const end = valueEnd(text, i);
    if (end < 0 || end === i) break;
    out.push([name, text.slice(i, end)]);
    i = skipWs(text, end);
    if (text.charCodeAt(i) !== 0x2c) break;
    i = skipWs(text, i + 1);
  }
  return out;
}

const INTEGER = /^-?(0|[1-9][0-9]*)$/;
const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

function parseJson(text) {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** Decoders of claim JSON text, as used by the typed accessors of `Claims`. */
export const json = {
  /** The top-level members of an object's text, as [name, value text as issued]. */
  members,
  /** One member's value text of the JSON object `text`, or undefined. */
  member(text, name) {
    if (text === undefined) return undefined;
    for (const [n, v] of members(text)) if (n === name) return v;
    return undefined;
  },
  /** A JSON string, unescaped; undefined for another JSON type. */
  parseStr(text) {
    if (text === undefined || text.charCodeAt(0) !== 0x22) return undefined;
    const r = parseJson(text);
    return r.ok && typeof r.value === 'string' ? r.value : undefined;
  },
  /** An integer (no fraction, no exponent) in the safe range of a JS number. */
  parseInt(text) {
    if (text === undefined || !INTEGER.test(text)) return undefined;
    const n = Number(text);
    return Number.isSafeInteger(n) ? n : undefined;
  },
  /** An integer (no fraction, no exponent) that fits 64 bits, as a BigInt. */
  parseBigInt(text) {
    if (text === undefined || !INTEGER.test(text)) return undefined;
    const n = BigInt(text);
    return n >= I64_MIN && n <= I64_MAX ? n : undefined;
  },
  /** `true` or `false`. */
  parseBool(text) {
    return text === 'true' ? true : text === 'false' ? false : undefined;
  },
  /** An array of strings; undefined for anything else (a single string included). */
  parseStrings(text) {
    if (text === undefined || text.charCodeAt(0) !== 0x5b) return undefined;
    const r = parseJson(text);
    return r.ok && Array.isArray(r.value) && r.value.every((s) => typeof s === 'string') ? r.value : undefined;
  },
  /** `s` as a JSON string text, as the Rust SDK's `json::quote` writes it: `"` and `\\`
   * escaped, control characters as `\u00XX`, everything else as is. */
  quote(s) {
    // eslint-disable-next-line no-control-regex
    return `"${String(s).replace(/["\\\u0000-\u001f]/g, (c) =>
      c === '"' ? '\\"' : c === '\\' ? '\\\\' : `\\u00${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}"`;
  },
};

// --- the event ----------------------------------------------------------------------------

const ABSENT = 0xffffffff;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The text of bytes [start, end) of `bytes`, or undefined when not UTF-8. */
function text(bytes, span) {
  if (span === undefined) return undefined;
  try {
    return utf8.decode(bytes.subarray(span[0], span[1]));
  } catch {
    return undefined;
  }
}

/** Walks the fields of `bytes` from `offset`: [start, end] of each present field, undefined for
 * an absent one; a field cut short ends the walk (it and the rest read as absent). */
function fields(bytes, count) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = [];
  let at = 0;
  for (let n = 0; count === undefined || n < count; n++) {
    if (at + 4 > bytes.length) {
      if (count === undefined) break;
      out.push(undefined);
      continue;
    }
    const len = view.getUint32(at, true);
    at += 4;
    if (len === ABSENT) {
      out.push(undefined);
    } else if (at + len > bytes.length) {
      at = bytes.length;
      out.push(undefined);
    } else {
      out.push([at, at + len]);
      at += len;
    }
  }
  return out;
}

let warnedUndeclared = false;

function undeclared(name) {
  if (warnedUndeclared) return;
  warnedUndeclared = true;
  log.warn(
    `claim "${name}" was not declared, so it reads as absent: a listener reads only the claims it declares; ` +
      `add "${name}" to Declaration.claims in declare(), or declare Declaration.allClaims() ` +
      '(this warning is logged once per instance)',
  );
}

/**
 * The claims of an issued token that the listener declared, read from the event.
 * `get(name)` gives a claim's JSON text exactly as issued; the typed accessors parse it and
 * give `undefined` when the claim is absent or of another JSON type.
 */
export class Claims {
  /** @internal */
  constructor(bytes, declared, spans) {
    this._bytes = bytes;
    this._declared = declared; // claim names, or undefined: the whole object
    this._spans = spans; // declared: one span per name; whole: [span of the object]
    this._texts = undefined;
    this._whole = undefined;
  }

  _wholeMembers() {
    if (this._whole === undefined) {
      const object = text(this._bytes, this._spans[0]);
      this._whole = object ? members(object) : [];
    }
    return this._whole;
  }

  /** One claim as its JSON text as issued, or undefined when the token lacks it or it was not
   * declared. */
  get(name) {
    if (this._declared !== undefined) {
      const index = this._declared.indexOf(name);
      if (index < 0) {
        undeclared(name);
        return undefined;
      }
      if (this._texts === undefined) this._texts = new Array(this._declared.length);
      let t = this._texts[index];
      if (t === undefined) t = this._texts[index] = text(this._bytes, this._spans[index]) ?? null;
      return t ?? undefined;
    }
    for (const [n, v] of this._wholeMembers()) if (n === name) return v;
    return undefined;
  }

  /** Whether the token has this (declared) claim. */
  has(name) {
    return this.get(name) !== undefined;
  }

  /** The names of the claims present: the declared claims the token has, in declared order, or
   * with `Declaration.allClaims()` every claim of the token, in its order. */
  names() {
    if (this._declared !== undefined) return this._declared.filter((n) => this.get(n) !== undefined);
    return this._wholeMembers().map(([n]) => n);
  }

  /** The claims present as one JSON object text (values as issued). */
  toJson() {
    if (this._declared === undefined) {
      const object = text(this._bytes, this._spans[0]);
      return object ? object : '{}';
    }
    const parts = [];
    for (const n of this._declared) {
      const v = this.get(n);
      if (v !== undefined) parts.push(`${JSON.stringify(n)}:${v}`);
    }
    return `{${parts.join(',')}}`;
  }

  /** The claims present, parsed (large numbers lose precision: use `get` for them). */
  toObject() {
    return JSON.parse(this.toJson());
  }

  /** A string claim, unescaped. */
  getStr(name) { return json.parseStr(this.get(name)); }
  /** An integer claim in the safe range of a number (see `getBigInt` for all of int64). */
  getInt(name) { return json.parseInt(this.get(name)); }
  /** An integer claim that fits 64 bits, as a BigInt. */
  getBigInt(name) { return json.parseBigInt(this.get(name)); }
  /** A boolean claim, such as `email_verified`. */
  getBool(name) { return json.parseBool(this.get(name)); }
  /** A claim that is an array of strings. A single string is not a list: see `audience`. */
  getStrings(name) { return json.parseStrings(this.get(name)); }

  /** `sub`, when a string. */
  subject() { return this.getStr('sub'); }
  /** `iss`, when a string. */
  issuer() { return this.getStr('iss'); }
  /** `aud` as a list: a single string becomes a list of one; absent or other types: []. */
  audience() {
    const aud = this.get('aud');
    const one = json.parseStr(aud);
    if (one !== undefined) return [one];
    return json.parseStrings(aud) ?? [];
  }
  /** `iat` in seconds since the epoch. */
  issuedAt() { return this.getInt('iat'); }
  /** `exp` in seconds since the epoch. */
  expiresAt() { return this.getInt('exp'); }
  /** `client_id` (access tokens, RFC 9068); the client of any token is also `ctx.clientId`. */
  clientId() { return this.getStr('client_id'); }
  /** `scope`, the space-separated scope string. */
  scope() { return this.getStr('scope'); }
  /** `jti`. */
  jwtId() { return this.getStr('jti'); }
  /** `acr`, the authentication context class reference. */
  acr() { return this.getStr('acr'); }
  /** `amr`, the authentication methods references. */
  amr() { return this.getStrings('amr'); }
  /** `auth_time` in seconds since the epoch. */
  authTime() { return this.getInt('auth_time'); }
}

/** The context a token was issued in (the SPI's EventContext, less the signer: `signer`). */
export class EventContext {
  /** @internal */
  constructor(bytes, spans) {
    this._bytes = bytes;
    this._spans = spans;
  }
  /** The issuer URL of the OpenID provider / authorisation server. */
  get issuer() { return text(this._bytes, this._spans[0]) ?? ''; }
  /** The `client_id` of the client the token was issued to; '' when unknown. */
  get clientId() { return text(this._bytes, this._spans[1]) ?? ''; }
  /** The client's registered metadata (RFC 7591) as the text of a JSON object, when declared
   * with `Declaration.clientMetadata()`; undefined otherwise. `json.member` reads a member. */
  get clientMetadata() { return text(this._bytes, this._spans[3]); }
}

/** An issued ID token: `claims`, and `localSubject` when `sub` is pairwise. */
export class IdTokenEvent {
  /** @internal */
  constructor(claims, bytes, span) {
    this.claims = claims;
    this._bytes = bytes;
    this._span = span;
  }
  /** The local subject when `sub` is pairwise, undefined otherwise. */
  get localSubject() { return text(this._bytes, this._span); }
}

/** An issued access token: `claims`. */
export class AccessTokenEvent {
  /** @internal */
  constructor(claims) {
    this.claims = claims;
  }
}

/** Splits an event (Uint8Array) for a listener that declared `declared` (undefined: all claims). */
export function decodeEvent(bytes, declared) {
  const head = fields(bytes, 4);
  const rest = (() => {
    // The offset after the four context fields.
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let at = 0;
    for (let n = 0; n < 4; n++) {
      if (at + 4 > bytes.length) return bytes.length;
      const len = view.getUint32(at, true);
      at += 4;
      if (len !== ABSENT) at = Math.min(at + len, bytes.length);
    }
    return at;
  })();
  const tail = bytes.subarray(rest);
  const spans = fields(tail, declared === undefined ? 1 : declared.length).map(
    (s) => s && [s[0] + rest, s[1] + rest],
  );
  return {
    context: new EventContext(bytes, head),
    localSubject: head[2],
    claims: new Claims(bytes, declared, spans),
  };
}

// --- the listener -------------------------------------------------------------------------

/** What a listener reads and accepts, returned by `declare()`. */
export class Declaration {
  constructor(claims, clientMetadata = false, properties = undefined) {
    this.claims = claims === undefined ? undefined : [...claims].map(String);
    this.clientMetadata = Boolean(clientMetadata);
    this.properties = properties === undefined ? undefined : [...properties].map(String);
  }
  /** The handlers read these claims, and only these (each event carries them in this order). */
  static claims(names) { return new Declaration(names); }
  /** The handlers read no claim. */
  static noClaims() { return new Declaration([]); }
  /** The handlers may read any claim: the whole claims set (the default). */
  static allClaims() { return new Declaration(undefined); }
  /** The handlers read the client's registered metadata (`ctx.clientMetadata`). */
  withClientMetadata() { return new Declaration(this.claims, true, this.properties); }
  /** The configuration properties the listener accepts: the host warns about others. */
  withProperties(keys) { return new Declaration(this.claims, this.clientMetadata, keys); }
  /** The listener accepts no property: the host warns about any. */
  noProperties() { return this.withProperties([]); }
}

/** Thrown from `init` to refuse to start: the listener is disabled (init-failed) and the
 * message is shown to the operator. Any other exception from `init` is a bug: it traps. */
export class InitError extends Error {}

/**
 * The lifecycle of a listener; extend it and define `idTokenIssued(event, ctx)` and/or
 * `accessTokenIssued(event, ctx)`. One object lives per Wasm instance: it is constructed just
 * before `init` (after a trap the host starts a fresh instance, so a fresh object).
 */
export class Listener {
  /** Called once before any event with the properties (a Map). Throw `InitError` to refuse. */
  init(properties) {} // eslint-disable-line no-unused-vars
  /** What the handlers read and which properties the listener accepts, asked right after a
   * successful `init`. Default: every claim, no client metadata, any property. */
  declare() { return Declaration.allClaims(); }
  /** Called after a successful `init`; false means no events are delivered. */
  isEnabled() { return true; }
  /** Called once when the host shuts down. */
  shutdown() {}
}

/** Logs an exception that escapes the listener, then lets it go on (a trap, cause `panic`). */
function reportUncaught(e, where) {
  let line;
  let stack;
  try {
    if (e instanceof Error) {
      line = `uncaught ${e.name}: ${e.message}`;
      stack = typeof e.stack === 'string' ? e.stack.trim() : '';
      const top = stack.split('\n')[0];
      if (top) line += ` (at ${top})`;
    } else {
      line = `uncaught exception: ${typeof e === 'string' ? e : JSON.stringify(e) ?? String(e)}`;
    }
  } catch {
    line = 'uncaught exception (unprintable)';
  }
  line += ` in ${where}`;
  if (stack) hostLog('debug', `stack of the uncaught exception in ${where}:\n${stack}`);
  hostLog('error', line);
}

function guard(where, f) {
  try {
    return f();
  } catch (e) {
    reportUncaught(e, where);
    throw e;
  }
}

function toWitDeclaration(d) {
  if (d === undefined || d === null) d = Declaration.allClaims();
  const claims = d.claims === undefined || d.claims === null ? undefined : [...d.claims].map(String);
  const properties = d.properties === undefined || d.properties === null ? undefined : [...d.properties].map(String);
  return { claims, clientMetadata: Boolean(d.clientMetadata), properties };
}

const handlerNames = { id: 'idTokenIssued', access: 'accessTokenIssued' };

function makeExports(ListenerClass, kinds, exportName) {
  if (typeof ListenerClass !== 'function') {
    throw new TypeError(`${exportName}: expected a listener class, got ${typeof ListenerClass}`);
  }
  const proto = ListenerClass.prototype;
  const has = (k) => typeof proto[handlerNames[k]] === 'function';
  const name = ListenerClass.name || 'the listener';
  for (const k of kinds) {
    if (!has(k)) {
      throw new TypeError(
        `${exportName}(${name}): ${name} has no ${handlerNames[k]}(event, ctx) method` +
          (has(k === 'id' ? 'access' : 'id')
            ? `; a listener of ${k === 'id' ? 'access' : 'ID'} tokens only is exported with ${k === 'id' ? 'exportAccessTokenListener' : 'exportIdTokenListener'}`
            : ''),
      );
    }
  }
  for (const k of ['id', 'access']) {
    if (!kinds.includes(k) && has(k)) {
      throw new TypeError(
        `${exportName}(${name}): ${name} also defines ${handlerNames[k]}, which this export would never call; ` +
          `export a listener of both kinds with exportListener(${name})`,
      );
    }
  }

  let listener; // the one listener object of this instance
  let declared; // its declared claim names (undefined: all claims)

  const onId = (bytes) => {
    if (listener === undefined) return;
    const d = decodeEvent(bytes, declared);
    const event = new IdTokenEvent(d.claims, bytes, d.localSubject);
    guard('idTokenIssued', () => listener.idTokenIssued(event, d.context));
  };
  const onAccess = (bytes) => {
    if (listener === undefined) return;
    const d = decodeEvent(bytes, declared);
    guard('accessTokenIssued', () => listener.accessTokenIssued(new AccessTokenEvent(d.claims), d.context));
  };

  const out = {
    lifecycle: {
      init(pairs) {
        let l;
        try {
          l = new ListenerClass();
          l.init(new Map(pairs));
        } catch (e) {
          // A string thrown from a result-returning export is its error; anything else traps.
          if (e instanceof InitError) throw String(e.message);
          reportUncaught(e, 'init');
          throw e;
        }
        const answer = toWitDeclaration(guard('declare', () => l.declare()));
        listener = l;
        declared = answer.claims;
        return answer;
      },
      isEnabled() {
        return listener === undefined ? false : Boolean(guard('isEnabled', () => listener.isEnabled()));
      },
      shutdown() {
        if (listener !== undefined) guard('shutdown', () => listener.shutdown());
        listener = undefined;
      },
    },
    batchListener: {
      // Tell the host event i starts (it arms that event's own budgets), then hand it over.
      tokensIssued(events) {
        for (let i = 0; i < events.length; i++) {
          batchBegin(i);
          const { kind, event } = events[i];
          if (kind === 'id-token') {
            if (kinds.includes('id')) onId(event);
          } else if (kinds.includes('access')) {
            onAccess(event);
          }
        }
      },
    },
  };
  if (kinds.includes('id')) out.idTokenListener = { idTokenIssued: onId };
  if (kinds.includes('access')) out.accessTokenListener = { accessTokenIssued: onAccess };
  return out;
}

/** The exports of a listener of ID tokens only (world `id-token-only`). */
export function exportIdTokenListener(ListenerClass) {
  return makeExports(ListenerClass, ['id'], 'exportIdTokenListener');
}

/** The exports of a listener of access tokens only (world `access-token-only`). */
export function exportAccessTokenListener(ListenerClass) {
  return makeExports(ListenerClass, ['access'], 'exportAccessTokenListener');
}

/** The exports of a listener of both token kinds (world `all-tokens`). */
export function exportListener(ListenerClass) {
  return makeExports(ListenerClass, ['id', 'access'], 'exportListener');
}
