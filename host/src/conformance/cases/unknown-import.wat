;; Imports an interface no host provides.
;;@ imports
(import "evil:net/socket@1.0.0" (instance
  (export "connect" (func (param "host" string) (param "port" u16) (result bool)))))
