// {{name}}: a tokenwatch listener in JavaScript (contract tokenwatch:listener@0.2.0).
// Build with ./build.sh; try it with
//   tokenwatch replay --config tokenwatch.toml events.ndjson
// The SDK is in sdk/ (sdk/tokenwatch.d.ts documents every call), the contract in wit/.
import { Declaration, InitError, Listener, exportListener, log } from './sdk/tokenwatch.js';

class MyListener extends Listener {
  // Called once before any event, with the [listener.properties] as a Map. Throw an
  // InitError to refuse to start (the operator sees its message); any other exception traps.
  init(properties) {
    this.prefix = properties.get('prefix') ?? '{{name}}';
    this.seen = 0; // lives across events: one object per Wasm instance
  }

  // The claims the handlers read (the host hands over only these, in this order), whether
  // they read the client's metadata, and the properties accepted (the host warns of others).
  declare() {
    return Declaration.claims(['sub', 'iat', 'acr', 'scope']).withProperties(['prefix']);
    // or Declaration.allClaims(), .withClientMetadata()
  }

  // false: no events are delivered.
  isEnabled() {
    return true;
  }

  // An ID token was issued. event.claims reads the declared claims; ctx has issuer,
  // clientId and clientMetadata. Do not keep `event` or `ctx` past the call.
  idTokenIssued(event, ctx) {
    this.seen += 1;
    const c = event.claims;
    log.info(`${this.prefix} #${this.seen} id_token sub=${c.subject() ?? '-'} acr=${c.acr() ?? '-'} client=${ctx.clientId || '-'}`);
  }

  // An access token was issued. Delete this method (and use exportIdTokenListener, world
  // id-token-only in build.sh) for a listener of ID tokens only; likewise the other way.
  accessTokenIssued(event, ctx) {
    this.seen += 1;
    log.info(`${this.prefix} #${this.seen} access_token sub=${event.claims.subject() ?? '-'} scope=${event.claims.scope() ?? '-'} client=${ctx.clientId || '-'}`);
  }

  // Called once when the host shuts down.
  shutdown() {
    log.info(`${this.prefix}: ${this.seen} tokens seen`);
  }
}

// The component's exports. exportListener: both kinds (world all-tokens);
// exportIdTokenListener / exportAccessTokenListener: one kind (id-token-only / access-token-only).
export const { lifecycle, idTokenListener, accessTokenListener, batchListener } = exportListener(MyListener);
