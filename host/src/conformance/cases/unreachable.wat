;; `unreachable` in a handler: what a panic or abort compiles to.
;;@ handler
unreachable
