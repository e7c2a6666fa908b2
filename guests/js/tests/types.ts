// Type test of the SDK's declarations (sdk/tokenwatch.d.ts), run by tests/lang_js.rs with
// `tsc --strict --noEmit`: a listener in TypeScript that uses every declared name the way the
// docs show, so a declaration that drifts from the SDK or from the WIT fails to compile.
// The `@ts-expect-error` lines must stay errors: they prove the checks are not vacuous.
import {
  AccessTokenEvent,
  Claims,
  Declaration,
  EventContext,
  IdTokenEvent,
  InitError,
  Listener,
  MetricsError,
  PublishError,
  SignError,
  config,
  exportIdTokenListener,
  exportListener,
  json,
  log,
  metrics,
  publish,
  signer,
} from '../sdk/tokenwatch.js';

class Typed extends Listener {
  prefix = '';

  override init(properties: Map<string, string>): void {
    const prefix: string | undefined = properties.get('prefix') ?? config.get('prefix');
    if (prefix === '') throw new InitError('prefix must not be empty');
    this.prefix = prefix ?? 'tw';
    for (const [key, value] of config.properties()) log.debug(`${key}=${value}`);
  }

  override declare(): Declaration {
    return Declaration.claims(['sub', 'aud', 'iat', 'amr', 'scope']).withClientMetadata().withProperties(['prefix']);
  }

  override isEnabled(): boolean {
    return Declaration.allClaims().clientMetadata === false && Declaration.noClaims().noProperties() instanceof Declaration;
  }

  idTokenIssued(event: IdTokenEvent, ctx: EventContext): void {
    this.read(event.claims, ctx);
    const local: string | undefined = event.localSubject;
    log.log('info', `local=${local ?? '-'}`);
  }

  accessTokenIssued(event: AccessTokenEvent, ctx: EventContext): void {
    const scope: string | undefined = event.claims.scope();
    const client: string = ctx.clientId;
    try {
      metrics.counterAdd('tokens_total', { client }, 1n);
      metrics.counterAdd('scoped_total');
      metrics.gaugeSet('last_scope_length', undefined, scope?.length ?? 0);
      publish('audit', { client, scope });
      const set: string = signer.signSet({ events: {} }, 'https://rp.example.com');
      log.info(set.length);
    } catch (e) {
      if (e instanceof SignError || e instanceof PublishError || e instanceof MetricsError) {
        const tag: string = e.tag;
        log.warn(`${tag}: ${String(e.val)}`);
      } else {
        throw e;
      }
    }
  }

  private read(claims: Claims, ctx: EventContext): void {
    const strings: (string | undefined)[] = [
      claims.get('sub'), claims.getStr('sub'), claims.subject(), claims.issuer(), claims.clientId(),
      claims.jwtId(), claims.acr(), ctx.clientMetadata, json.member(ctx.clientMetadata, 'client_name'),
      json.parseStr(claims.get('sub')),
    ];
    const numbers: (number | undefined)[] = [claims.getInt('iat'), claims.issuedAt(), claims.expiresAt(), claims.authTime(), json.parseInt('1')];
    const lists: (string[] | undefined)[] = [claims.audience(), claims.amr(), claims.getStrings('amr'), claims.names(), json.parseStrings('["a"]')];
    const big: bigint | undefined = claims.getBigInt('iat') ?? json.parseBigInt('1');
    const flag: boolean | undefined = claims.getBool('x') ?? json.parseBool('true');
    const members: Array<[string, string]> = json.members(claims.toJson());
    const object: Record<string, unknown> = claims.toObject();
    log.info([strings, numbers, lists, big, flag, members, object, claims.has('sub'), json.quote(ctx.issuer), this.prefix]);
  }
}

export const all = exportListener(Typed);

class IdOnly extends Listener {
  idTokenIssued(_event: IdTokenEvent, _ctx: EventContext): void {}
}
export const idOnly = exportIdTokenListener(IdOnly);

// @ts-expect-error: exportListener needs both handlers
export const missing = exportListener(IdOnly);

// @ts-expect-error: claims are read-only
export function write(event: IdTokenEvent, claims: Claims): void { event.claims = claims; }

// @ts-expect-error: log levels are the WIT's enum
log.log('fatal', 'x');
