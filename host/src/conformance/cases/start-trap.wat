;; A core start function that traps at instantiation.
;;@ items
(func $boom unreachable)
(start $boom)
