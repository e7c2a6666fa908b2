;; One log line of 512 KiB.
;;@ memory
(memory (export "memory") 16)
;;@ handler
(memory.fill (i32.const 65536) (i32.const 0x41) (i32.const 524288))
(call $log (i32.const 2) (i32.const 65536) (i32.const 524288))
