;; Imports WASI's environment; when granted, logs how many variables it sees (a digit).
;;@ imports
(import "wasi:cli/environment@0.2.0" (instance $env-i
  (export "get-environment" (func (result (list (tuple string string)))))))

;;@ before
(alias export $env-i "get-environment" (func $get-env-f))
(core func $get-env-c (canon lower (func $get-env-f) (memory $mem) (realloc $realloc)))
(core instance $env-c (export "get-environment" (func $get-env-c)))
;;@ core_imports
(import "wasi-env" "get-environment" (func $get-env (param i32)))
;;@ with
(with "wasi-env" (instance $env-c))
;;@ handler
(call $get-env (i32.const 128))
(i32.store8 (i32.const 48) (i32.add (i32.const 48) (i32.load (i32.const 132))))
(call $log (i32.const 2) (i32.const 48) (i32.const 1))
