;; Asks for a property with a 64 KiB key, over and over.
;;@ memory
(memory (export "memory") 4)
;;@ handler
(memory.fill (i32.const 65536) (i32.const 0x6b) (i32.const 65536))
(loop $more
  (call $config-get (i32.const 65536) (i32.const 65536) (i32.const 128))
  (br $more))
