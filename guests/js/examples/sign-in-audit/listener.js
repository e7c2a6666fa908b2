// Logs one line per issued ID token, like the `SignInListener` example of Connect2id's
// IDTokenIssueEventListener SPI docs; the same lines as the Rust `sign-in-audit`.
//
// It declares the four claims it reads. Property `trap_on` (testing): a subject whose event
// throws, to show how an uncaught exception reaches the operator.
import { Declaration, Listener, exportIdTokenListener, log } from '../../sdk/tokenwatch.js';

/** The value, or `-` when there is none. */
const or = (v) => (v === undefined ? '-' : v);

class SignInAudit extends Listener {
  init(properties) {
    this.trapOn = properties.get('trap_on');
  }

  declare() {
    return Declaration.claims(['sub', 'iat', 'acr', 'amr']).withProperties(['trap_on']);
  }

  idTokenIssued(event, ctx) {
    const claims = event.claims;
    const sub = claims.subject();
    if (this.trapOn !== undefined && sub === this.trapOn) {
      throw new Error(`cannot audit sub ${sub}`);
    }
    log.info(
      `sign-in sub=${or(sub)} iat=${or(claims.issuedAt())} client=${ctx.clientId || '-'} ` +
        // amr is shown as its JSON text: ["pwd","otp"].
        `acr=${or(claims.acr())} amr=${or(claims.get('amr'))}`,
    );
  }
}

export const { lifecycle, idTokenListener, batchListener } = exportIdTokenListener(SignInAudit);
