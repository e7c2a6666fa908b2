declare module 'tokenwatch:listener/publish@0.2.0' {
  /**
   * Enqueue `message` for the sink named `sink`.
   */
  export function publish(sink: string, message: string): void;
  export type PublishError = PublishErrorUnknownSink | PublishErrorTooLarge | PublishErrorQueueFull;
  /**
   * No sink of that name is configured for this listener.
   */
  export interface PublishErrorUnknownSink {
    tag: 'unknown-sink',
    val: string,
  }
  /**
   * The message is larger than the sink accepts (the cap, in bytes).
   */
  export interface PublishErrorTooLarge {
    tag: 'too-large',
    val: number,
  }
  /**
   * The sink's queue is full; the message was counted as dropped.
   */
  export interface PublishErrorQueueFull {
    tag: 'queue-full',
  }
}
