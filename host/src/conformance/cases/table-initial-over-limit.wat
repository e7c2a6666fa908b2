;; Declares a table of 200,000 elements.
;;@ items
(table 200000 funcref)
