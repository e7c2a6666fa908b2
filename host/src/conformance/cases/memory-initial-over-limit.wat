;; Declares an initial memory of 1025 pages (64 MiB + 64 KiB).
;;@ memory
(memory (export "memory") 1025)
