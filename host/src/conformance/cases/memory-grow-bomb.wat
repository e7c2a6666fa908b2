;; Grows its memory 16 pages (1 MiB) at a time until refused, and ignores the refusal.
;;@ handler
(loop $more
  (br_if $more (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
