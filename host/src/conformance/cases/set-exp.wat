;; SET content with `exp`; the answer is logged.
;;@ data
(data (i32.const 1024) "{\22events\22:{\22https://schemas.openid.net/secevent/caep/event-type/session-established\22:{}},\22exp\22:4102444800}")
;;@ handler
(call $sign-set (i32.const 1024) (i32.const 106) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 128))
(call $report (i32.const 128))
