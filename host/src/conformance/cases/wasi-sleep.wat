;; Granted WASI: sleeps 2 s (a pollable from the monotonic clock, then block on it).
;;@ imports
(import "wasi:io/poll@0.2.0" (instance $poll-i
  (export "pollable" (type (sub resource)))
  (export "[method]pollable.block" (func (param "self" (borrow 0))))))
(alias export $poll-i "pollable" (type $pollable))
(import "wasi:clocks/monotonic-clock@0.2.0" (instance $clock-i
  (alias outer $listener $pollable (type $p))
  (export "pollable" (type $pe (eq $p)))
  (export "subscribe-duration" (func (param "when" u64) (result (own $pe))))))
(alias export $poll-i "[method]pollable.block" (func $block-f))
(alias export $clock-i "subscribe-duration" (func $subscribe-f))
(core func $block-c (canon lower (func $block-f)))
(core func $subscribe-c (canon lower (func $subscribe-f)))
(core instance $wasi-c
  (export "block" (func $block-c))
  (export "subscribe-duration" (func $subscribe-c)))
;;@ core_imports
(import "wasi" "block" (func $block (param i32)))
(import "wasi" "subscribe-duration" (func $subscribe (param i64) (result i32)))
;;@ with
(with "wasi" (instance $wasi-c))
;;@ handler
(call $block (call $subscribe (i64.const 2000000000)))
