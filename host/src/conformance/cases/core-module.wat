;; A core module, not a component.
(module (memory 1) (func (export "id-token-issued")))
