;; One grow to 4 GiB in all (65535 more pages): within what a 32-bit memory addresses.
;;@ handler
(drop (memory.grow (i32.const 0xffff)))
