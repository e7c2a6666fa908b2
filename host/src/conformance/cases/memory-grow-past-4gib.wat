;; Grows past what a 32-bit memory can address (2^16 pages, and -1 as a page count): the
;; Wasm spec says -1 comes back; anything else traps here.
;;@ handler
(if (i32.ne (memory.grow (i32.const 0x10000)) (i32.const -1)) (then unreachable))
(if (i32.ne (memory.grow (i32.const -1)) (i32.const -1)) (then unreachable))
