;; A well-formed SET, as the control of the set-* cases; the answer is logged.
;;@ data
(data (i32.const 1024) "{\22events\22:{\22https://schemas.openid.net/secevent/caep/event-type/session-established\22:{}},\22sub_id\22:{\22format\22:\22opaque\22,\22id\22:\22alice\22}}")
;;@ handler
(call $sign-set (i32.const 1024) (i32.const 131) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 128))
(call $report (i32.const 128))
