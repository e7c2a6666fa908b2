;; Imports WASI's clocks.
;;@ imports
(import "wasi:clocks/monotonic-clock@0.2.0" (instance (export "now" (func (result u64)))))
