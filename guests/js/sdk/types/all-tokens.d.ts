/// <reference path="./interfaces/tokenwatch-listener-access-token-listener.d.ts" />
/// <reference path="./interfaces/tokenwatch-listener-batch-listener.d.ts" />
/// <reference path="./interfaces/tokenwatch-listener-batch.d.ts" />
/// <reference path="./interfaces/tokenwatch-listener-config.d.ts" />
/// <reference path="./interfaces/tokenwatch-listener-id-token-listener.d.ts" />
/// <reference path="./interfaces/tokenwatch-listener-lifecycle.d.ts" />
/// <reference path="./interfaces/tokenwatch-listener-log.d.ts" />
/// <reference path="./interfaces/tokenwatch-listener-metrics.d.ts" />
/// <reference path="./interfaces/tokenwatch-listener-publish.d.ts" />
/// <reference path="./interfaces/tokenwatch-listener-signer.d.ts" />
declare module 'tokenwatch:listener/all-tokens@0.2.0' {
  export type * as TokenwatchListenerBatch020 from 'tokenwatch:listener/batch@0.2.0'; // import tokenwatch:listener/batch@0.2.0
  export type * as TokenwatchListenerConfig020 from 'tokenwatch:listener/config@0.2.0'; // import tokenwatch:listener/config@0.2.0
  export type * as TokenwatchListenerLog020 from 'tokenwatch:listener/log@0.2.0'; // import tokenwatch:listener/log@0.2.0
  export type * as TokenwatchListenerMetrics020 from 'tokenwatch:listener/metrics@0.2.0'; // import tokenwatch:listener/metrics@0.2.0
  export type * as TokenwatchListenerPublish020 from 'tokenwatch:listener/publish@0.2.0'; // import tokenwatch:listener/publish@0.2.0
  export type * as TokenwatchListenerSigner020 from 'tokenwatch:listener/signer@0.2.0'; // import tokenwatch:listener/signer@0.2.0
  export * as lifecycle from 'tokenwatch:listener/lifecycle@0.2.0'; // export tokenwatch:listener/lifecycle@0.2.0
  export * as idTokenListener from 'tokenwatch:listener/id-token-listener@0.2.0'; // export tokenwatch:listener/id-token-listener@0.2.0
  export * as accessTokenListener from 'tokenwatch:listener/access-token-listener@0.2.0'; // export tokenwatch:listener/access-token-listener@0.2.0
  export * as batchListener from 'tokenwatch:listener/batch-listener@0.2.0'; // export tokenwatch:listener/batch-listener@0.2.0
}
