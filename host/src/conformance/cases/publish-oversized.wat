;; One message of 64 KiB + 1 byte, over the sink's cap; the answer is logged.
;;@ memory
(memory (export "memory") 4)
;;@ data
(data (i32.const 1024) "conformance")
;;@ handler
(memory.fill (i32.const 65536) (i32.const 0x61) (i32.const 65537))
(call $publish (i32.const 1024) (i32.const 11) (i32.const 65536) (i32.const 65537) (i32.const 128))
(call $report (i32.const 128))
