;; Imports WASI's sockets.
;;@ imports
(import "wasi:sockets/network@0.2.0" (instance (export "network" (type (sub resource)))))
