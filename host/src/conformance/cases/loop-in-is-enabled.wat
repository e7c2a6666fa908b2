;; An infinite loop in `is-enabled`.
;;@ is_enabled
(loop $spin (br $spin))
