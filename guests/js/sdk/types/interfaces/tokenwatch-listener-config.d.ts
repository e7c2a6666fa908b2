declare module 'tokenwatch:listener/config@0.2.0' {
  /**
   * One property, or none.
   */
  export function get(key: string): string | undefined;
  /**
   * All properties as key/value pairs, sorted by key.
   */
  export function properties(): Array<[string, string]>;
}
