;; A SET for an audience the listener was not granted; the answer is logged.
;;@ data
(data (i32.const 1024) "{\22events\22:{\22https://schemas.openid.net/secevent/caep/event-type/session-established\22:{}}}")
(data (i32.const 3072) "https://evil.example")
;;@ handler
(call $sign-set (i32.const 1024) (i32.const 89) (i32.const 1) (i32.const 3072) (i32.const 20) (i32.const 128))
(call $report (i32.const 128))
