;; `init` traps.
;;@ init
unreachable
