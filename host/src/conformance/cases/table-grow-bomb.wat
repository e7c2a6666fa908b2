;; Asks for the largest table there is.
;;@ items
(table $t 1 funcref)
;;@ handler
(drop (table.grow $t (ref.null func) (i32.const 0x7fffffff)))
