;; Imports WASI's filesystem.
;;@ imports
(import "wasi:filesystem/types@0.2.0" (instance (export "descriptor" (type (sub resource)))))
