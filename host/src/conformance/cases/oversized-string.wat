;; Hands the host a 2 MiB string (a log line), over the 1 MiB per-call transfer cap.
;;@ memory
(memory (export "memory") 40)
;;@ handler
(call $log (i32.const 2) (i32.const 65536) (i32.const 2097152))
