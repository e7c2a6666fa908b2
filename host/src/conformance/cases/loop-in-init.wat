;; An infinite loop in `init`.
;;@ init
(loop $spin (br $spin))
