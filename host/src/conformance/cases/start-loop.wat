;; A core start function that never returns: it runs at instantiation, before `init`.
;;@ items
(func $spin (loop $again (br $again)))
(start $spin)
