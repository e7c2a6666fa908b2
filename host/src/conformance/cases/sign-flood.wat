;; 100 signatures in one call; the last answer is logged.
;;@ data
(data (i32.const 1024) "{\22events\22:{\22https://schemas.openid.net/secevent/caep/event-type/session-established\22:{}}}")
;;@ handler
(local $n i32)
(local.set $n (i32.const 100))
(loop $more
  (call $sign-set (i32.const 1024) (i32.const 89) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 128))
  (global.set $heap (i32.const 4096))
  (br_if $more (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
(call $report (i32.const 128))
