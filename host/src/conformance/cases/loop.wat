;; An infinite loop in a handler.
;;@ handler
(loop $spin (br $spin))
