declare module 'tokenwatch:listener/log@0.2.0' {
  /**
   * Log one line. The host cuts a message to 4 KiB and keeps at most 64 lines per call;
   * the rest are counted as dropped, never an error.
   */
  export function log(level: Level, message: string): void;
  /**
   * # Variants
   * 
   * ## `"trace"`
   * 
   * ## `"debug"`
   * 
   * ## `"info"`
   * 
   * ## `"warn"`
   * 
   * ## `"error"`
   */
  export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error';
}
