declare module 'tokenwatch:listener/lifecycle@0.2.0' {
  /**
   * Called once after loading, before any event, with this listener's configuration
   * properties (also readable later through the `config` import). An error disables the
   * listener; its message is shown to the operator (`replay`, status, log).
   */
  export function init(properties: Array<[string, string]>): Declaration;
  /**
   * Called after a successful `init`. A listener that answers false gets no events.
   */
  export function isEnabled(): boolean;
  /**
   * Called once when the host shuts down, under the listener's deadline.
   */
  export function shutdown(): void;
  /**
   * What a listener tells the host about itself, in its `init` answer.
   */
  export interface Declaration {
    /**
     * The claims the handlers read, by name (at most 256 names of at most 256 bytes).
     * The host hands over exactly these, in this order, each as its JSON text as issued
     * (see `event` below). None: the whole claims set, as one JSON object.
     */
    claims?: Array<string>,
    /**
     * Whether the handlers read the client's registered metadata (RFC 7591); without
     * it the host does not copy it into the event.
     */
    clientMetadata: boolean,
    /**
     * The configuration properties the listener accepts. The host warns about any other
     * key it was given (a misspelt key would otherwise be silently ignored). None: any
     * key, no warning.
     */
    properties?: Array<string>,
  }
}
