;; Publishes to a sink it was not granted; the answer is logged.
;;@ data
(data (i32.const 1024) "elsewhere")
(data (i32.const 1040) "{}")
;;@ handler
(call $publish (i32.const 1024) (i32.const 9) (i32.const 1040) (i32.const 2) (i32.const 128))
(call $report (i32.const 128))
