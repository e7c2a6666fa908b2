;; Reads past the end of its memory.
;;@ handler
(drop (i32.load (i32.const -4)))
