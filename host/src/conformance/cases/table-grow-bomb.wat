;; Asks for 1,000,000 more table elements.
;;@ items
(table $t 1 funcref)
;;@ handler
(drop (table.grow $t (ref.null func) (i32.const 1000000)))
