;; Imports WASI's filesystem; when granted, logs how many preopened directories it sees (a
;; digit).
;;@ imports
(import "wasi:filesystem/types@0.2.0" (instance $fs-types-i
  (export "descriptor" (type (sub resource)))))
(alias export $fs-types-i "descriptor" (type $descriptor))
(import "wasi:filesystem/preopens@0.2.0" (instance $preopens-i
  (alias outer $listener $descriptor (type $d))
  (export "descriptor" (type $de (eq $d)))
  (export "get-directories" (func (result (list (tuple (own $de) string)))))))
;;@ before
(alias export $preopens-i "get-directories" (func $get-dirs-f))
(core func $get-dirs-c (canon lower (func $get-dirs-f) (memory $mem) (realloc $realloc)))
(core instance $fs-c (export "get-directories" (func $get-dirs-c)))
;;@ core_imports
(import "wasi-fs" "get-directories" (func $get-dirs (param i32)))
;;@ with
(with "wasi-fs" (instance $fs-c))
;;@ handler
(call $get-dirs (i32.const 128))
(i32.store8 (i32.const 48) (i32.add (i32.const 48) (i32.load (i32.const 132))))
(call $log (i32.const 2) (i32.const 48) (i32.const 1))
