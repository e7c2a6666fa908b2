;; SET content shaped as an access token; the answer is logged.
;;@ data
(data (i32.const 1024) "{\22events\22:{\22https://schemas.openid.net/secevent/caep/event-type/session-established\22:{}},\22sub\22:\22alice\22,\22client_id\22:\22app\22,\22scope\22:\22openid email\22,\22cnf\22:{\22jkt\22:\22x\22}}")
;;@ handler
(call $sign-set (i32.const 1024) (i32.const 162) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 128))
(call $report (i32.const 128))
