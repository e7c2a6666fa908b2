;; SET content naming its own issuer; the answer is logged.
;;@ data
(data (i32.const 1024) "{\22iss\22:\22https://evil.example\22,\22events\22:{\22https://schemas.openid.net/secevent/caep/event-type/session-established\22:{}}}")
;;@ handler
(call $sign-set (i32.const 1024) (i32.const 118) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 128))
(call $report (i32.const 128))
