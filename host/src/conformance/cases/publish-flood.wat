;; 10,000 messages in one call.
;;@ data
(data (i32.const 1024) "conformance")
(data (i32.const 1040) "{\22flood\22:true}")
;;@ handler
(local $n i32)
(local.set $n (i32.const 10000))
(loop $more
  (call $publish (i32.const 1024) (i32.const 11) (i32.const 1040) (i32.const 14) (i32.const 128))
  (br_if $more (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
