;; A 64-bit memory, in a core module of its own where the canonical ABI never looks.
;;@ before
(core module $wide (memory i64 1))
(core instance (instantiate $wide))
