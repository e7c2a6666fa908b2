// Publishes one JSON message per issued ID token and access token to a sink: the sandboxed
// counterpart of Connect2id's AWS SQS token event publisher, ported from the Rust
// `sqs-publisher` (same properties, same messages, same log lines).
//
// Properties:
// - `sink` (required): the name of a sink granted to this listener;
// - `claims`: the claims to publish, comma-separated, in message order (default `sub,iat`);
//   trimmed, empty items dropped, repeats ignored; also the claims the listener declares;
// - `include.<name>=<value>`: adds the member `<name>` with the string `<value>` to every
//   message, after the claims, by name. A listed claim of the same name wins.
//
// With `include.region=eu-1`, an ID token for alice issued at 1523304728 gives
//   {"sub":"alice","iat":1523304728,"region":"eu-1"}
//
// A failed publish is logged at `warn` the first time for each kind of failure, then only
// counted; the counts are logged at shutdown.
import {
  Declaration, InitError, Listener, PublishError, exportListener, json, log, publish,
} from '../../sdk/tokenwatch.js';

const DEFAULT_CLAIMS = 'sub,iat';
const INCLUDE = 'include.';
/** The publish failures by kind, in the order of wit/listener.wit. */
const FAILURES = ['unknown-sink', 'too-large', 'queue-full'];

class SqsPublisher extends Listener {
  init(properties) {
    this.sink = (properties.get('sink') ?? '').trim();
    if (!this.sink) {
      throw new InitError('sqs-publisher: property "sink" is required: the name of a sink granted to this listener');
    }
    this.claims = [];
    for (const raw of (properties.get('claims') ?? DEFAULT_CLAIMS).split(',')) {
      const name = raw.trim();
      if (name && !this.claims.includes(name)) this.claims.push(name);
    }
    if (this.claims.length === 0) {
      throw new InitError('sqs-publisher: property "claims" names no claim: give a comma-separated list such as "sub,iat"');
    }
    this.includes = [];
    for (const [key, value] of properties) {
      if (!key.startsWith(INCLUDE)) continue;
      const name = key.slice(INCLUDE.length);
      if (!name) {
        throw new InitError(`sqs-publisher: property "${key}" names no member: write include.<name>=<value>`);
      }
      if (this.claims.includes(name)) {
        log.warn(`property "${key}" is skipped: "${name}" is one of the claims, which wins`);
      }
      this.includes.push([name, value]);
    }
    this.includes.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const names = this.includes.map(([name]) => name);
    log.info(`init sink=${this.sink} claims=${this.claims.join(',')} includes=${names.length ? names.join(',') : '-'}`);
    this.failures = [0, 0, 0];
  }

  declare() {
    return Declaration.claims(this.claims).withProperties([
      'claims', 'sink', ...this.includes.map(([name]) => INCLUDE + name),
    ]);
  }

  idTokenIssued(event) {
    this.publish(event.claims);
  }

  accessTokenIssued(event) {
    this.publish(event.claims);
  }

  publish(claims) {
    const message = buildMessage((name) => claims.get(name), this.claims, this.includes);
    try {
      publish(this.sink, message);
    } catch (e) {
      if (!(e instanceof PublishError)) throw e;
      this.failed(e, message);
    }
  }

  /** Counts a failed publish; the first of each kind in this instance is logged. */
  failed(error, message) {
    const kind = FAILURES.indexOf(error.tag);
    const why = {
      'unknown-sink': 'no sink of that name is granted to this listener',
      'too-large': `the message has ${new TextEncoder().encode(message).length} bytes, the sink takes at most ${error.val}`,
      'queue-full': "the sink's queue is full, the message was dropped",
    }[error.tag];
    this.failures[kind] += 1;
    if (this.failures[kind] === 1) {
      log.warn(
        `publish to sink "${this.sink}" failed: ${error.tag} (${why}); further ${error.tag} failures are only counted until shutdown`,
      );
    }
  }

  shutdown() {
    const total = this.failures.reduce((a, b) => a + b, 0);
    if (total > 0) {
      const counts = FAILURES.map((kind, i) => `${kind}=${this.failures[i]}`).filter((_, i) => this.failures[i] > 0);
      log.warn(`${total} messages not published to sink "${this.sink}": ${counts.join(' ')}`);
    }
  }
}

/** The message of one token: a JSON object of the claims `names` the token has, each value
 * its JSON text as issued, then `includes` (sorted by name) as strings. */
export function buildMessage(claim, names, includes) {
  const parts = [];
  for (const name of names) {
    const value = claim(name);
    // (Empty text is no JSON value; splicing it in would break the message.)
    if (value) parts.push(`${json.quote(name)}:${value}`);
  }
  for (const [name, value] of includes) {
    // A listed claim wins over an include of the same name, even for a token without it.
    if (names.includes(name)) continue;
    parts.push(`${json.quote(name)}:${json.quote(value)}`);
  }
  return `{${parts.join(',')}}`;
}

export const { lifecycle, idTokenListener, accessTokenListener, batchListener } = exportListener(SqsPublisher);
