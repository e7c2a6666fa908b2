;; A well-formed ID-token listener that also imports an interface no host provides
;; (`evil:net/socket`). The host must refuse to load it and name the import.
(component
  (import "evil:net/socket@1.0.0" (instance
    (export "connect" (func (param "host" string) (param "port" u16) (result bool)))
  ))
  (import "tokenwatch:listener/token@0.1.0" (instance $token
    (export "claims" (type (sub resource)))
    (export "event-context" (type (sub resource)))
  ))
  (alias export $token "claims" (type $claims))
  (alias export $token "event-context" (type $context))

  (core func $drop-claims (canon resource.drop $claims))
  (core func $drop-context (canon resource.drop $context))

  (core module $m
    (import "token" "drop-claims" (func $drop-claims (param i32)))
    (import "token" "drop-context" (func $drop-context (param i32)))
    (memory (export "memory") 1)
    ;; Bump allocator: this listener never frees, a fresh instance is cheap.
    (global $heap (mut i32) (i32.const 1024))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      (local.set $p (i32.and
        (i32.add (global.get $heap) (i32.sub (local.get 2) (i32.const 1)))
        (i32.sub (i32.const 0) (local.get 2))))
      (global.set $heap (i32.add (local.get $p) (local.get 3)))
      (if (i32.gt_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
        (then (drop (memory.grow (i32.const 1)))))
      (local.get $p))
    ;; init -> ok: a zeroed result area at address 0 (discriminant 0).
    (func (export "init") (param i32 i32) (result i32) (i32.const 0))
    (func (export "is-enabled") (result i32) (i32.const 1))
    (func (export "shutdown"))
    ;; Borrowed handles must be dropped before returning.
    (func (export "id-token-issued") (param i32 i32 i32 i32 i32)
      (call $drop-claims (local.get 0))
      (call $drop-context (local.get 4)))
  )
  (core instance $token-core
    (export "drop-claims" (func $drop-claims))
    (export "drop-context" (func $drop-context)))
  (core instance $i (instantiate $m (with "token" (instance $token-core))))

  (func $init (param "properties" (list (tuple string string))) (result (result (error string)))
    (canon lift (core func $i "init") (memory (core memory $i "memory")) (realloc (core func $i "realloc"))))
  (func $is-enabled (result bool) (canon lift (core func $i "is-enabled")))
  (func $shutdown (canon lift (core func $i "shutdown")))
  (instance $lifecycle
    (export "init" (func $init))
    (export "is-enabled" (func $is-enabled))
    (export "shutdown" (func $shutdown)))
  (export "tokenwatch:listener/lifecycle@0.1.0" (instance $lifecycle))

  (func $id-token-issued
    (param "claims" (borrow $claims))
    (param "local-subject" (option string))
    (param "context" (borrow $context))
    (canon lift (core func $i "id-token-issued") (memory (core memory $i "memory")) (realloc (core func $i "realloc"))))
  ;; Re-exporting `use`d resource types needs a nested component (as wit-component does),
  ;; else the component has no WIT reading.
  (component $id-token-listener-shim
    (import "import-type-claims" (type $c (sub resource)))
    (import "import-type-event-context" (type $e (sub resource)))
    (import "import-func-id-token-issued" (func $f
      (param "claims" (borrow $c)) (param "local-subject" (option string)) (param "context" (borrow $e))))
    (export $c2 "claims" (type $c))
    (export $e2 "event-context" (type $e))
    (export "id-token-issued" (func $f) (func
      (param "claims" (borrow $c2)) (param "local-subject" (option string)) (param "context" (borrow $e2)))))
  (instance $id-token-listener (instantiate $id-token-listener-shim
    (with "import-type-claims" (type $claims))
    (with "import-type-event-context" (type $context))
    (with "import-func-id-token-issued" (func $id-token-issued))))
  (export "tokenwatch:listener/id-token-listener@0.1.0" (instance $id-token-listener))
)
