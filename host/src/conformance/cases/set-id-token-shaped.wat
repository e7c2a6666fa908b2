;; SET content shaped as an ID token; the answer is logged.
;;@ data
(data (i32.const 1024) "{\22events\22:{\22https://schemas.openid.net/secevent/caep/event-type/session-established\22:{}},\22sub\22:\22alice\22,\22aud\22:\22client-123\22,\22nonce\22:\22n-0S6\22,\22auth_time\22:1700000000,\22acr\22:\22urn:mfa\22}")
;;@ handler
(call $sign-set (i32.const 1024) (i32.const 177) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 128))
(call $report (i32.const 128))
