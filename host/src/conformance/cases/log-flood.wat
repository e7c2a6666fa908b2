;; 1,000 log lines in one call.
;;@ data
(data (i32.const 1024) "flood")
;;@ handler
(local $n i32)
(local.set $n (i32.const 1000))
(loop $more
  (call $log (i32.const 2) (i32.const 1024) (i32.const 5))
  (br_if $more (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
