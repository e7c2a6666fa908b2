;; SET content of 70 KiB (a valid SET padded with a long `txn`), over the 64 KiB cap.
;;@ memory
(memory (export "memory") 4)
;;@ data
(data (i32.const 1024) "{\22events\22:{\22https://schemas.openid.net/secevent/caep/event-type/session-established\22:{}},\22txn\22:\22")
;;@ handler
(memory.copy (i32.const 65536) (i32.const 1024) (i32.const 98))
(memory.fill (i32.const 65634) (i32.const 0x74) (i32.const 71680))
(i32.store16 (i32.const 137314) (i32.const 0x7d22))
(call $sign-set (i32.const 65536) (i32.const 71780) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 128))
(call $report (i32.const 128))
