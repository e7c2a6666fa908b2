;; An infinite loop in `shutdown`.
;;@ shutdown
(loop $spin (br $spin))
