;; Asks for the largest table there is (2^31 - 1 more elements).
;;@ items
(table $t 1 funcref)
;;@ handler
(drop (table.grow $t (ref.null func) (i32.const 0x7fffffff)))
