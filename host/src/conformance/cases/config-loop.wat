;; Reads a property forever.
;;@ data
(data (i32.const 1024) "mode")
;;@ handler
(loop $more
  (call $config-get (i32.const 1024) (i32.const 4) (i32.const 128))
  (br $more))
