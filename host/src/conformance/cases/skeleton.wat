;; The standard contract 0.2 listener every spliced case is built from: both handlers, every
;; host import lowered, and a memory module instantiated first so the lowered imports have a
;; memory and an allocator. A case's file fills the holes, names in double braces, with
;; `;;@ hole` sections (mod.rs, `HOLES`, lists them and what an empty hole holds).
;;
;; Main-module helpers: $log (level ptr len), $config-get (key-ptr key-len ret),
;; $sign-set (claims-ptr claims-len aud? aud-ptr aud-len ret),
;; $publish (sink-ptr sink-len msg-ptr msg-len ret), the memory, and the global $heap.
;; Addresses 0-63 stay zero (`init`'s default answer: ok, nothing declared); the allocator
;; starts at 4096.
(component $listener
  (import "tokenwatch:listener/log@0.2.0" (instance $log-i
    (type $l (enum "trace" "debug" "info" "warn" "error"))
    (export "level" (type $level (eq $l)))
    (export "log" (func (param "level" $level) (param "message" string)))))
  (import "tokenwatch:listener/config@0.2.0" (instance $config-i
    (export "get" (func (param "key" string) (result (option string))))))
  (import "tokenwatch:listener/signer@0.2.0" (instance $signer-i
    (type (variant (case "no-key-configured") (case "refused" string) (case "quota-exceeded")
      (case "too-large" u32) (case "audience-not-allowed" string)))
    (export "sign-error" (type $e (eq 0)))
    (export "sign-set" (func (param "claims" string) (param "audience" (option string)) (result (result string (error $e)))))))
  (import "tokenwatch:listener/publish@0.2.0" (instance $publish-i
    (type (variant (case "unknown-sink" string) (case "too-large" u32) (case "queue-full")))
    (export "publish-error" (type $e (eq 0)))
    (export "publish" (func (param "sink" string) (param "message" string) (result (result (error $e)))))))
  {{imports}}

  (core module $Mem
    {{memory}}
    (global (export "heap") (mut i32) (i32.const 4096))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      (local.set $p (i32.and
        (i32.add (global.get 0) (i32.sub (local.get 2) (i32.const 1)))
        (i32.sub (i32.const 0) (local.get 2))))
      (global.set 0 (i32.add (local.get $p) (local.get 3)))
      (block $fits (loop $more
        (br_if $fits (i32.le_u (global.get 0) (i32.mul (memory.size) (i32.const 65536))))
        (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1)) (then unreachable))
        (br $more)))
      (local.get $p)))
  (core instance $mem-i (instantiate $Mem))
  (alias core export $mem-i "memory" (core memory $mem))
  (alias core export $mem-i "realloc" (core func $realloc))

  (alias export $log-i "log" (func $log-f))
  (alias export $config-i "get" (func $config-get-f))
  (alias export $signer-i "sign-set" (func $sign-set-f))
  (alias export $publish-i "publish" (func $publish-f))
  (core func $log-c (canon lower (func $log-f) (memory $mem)))
  (core func $config-get-c (canon lower (func $config-get-f) (memory $mem) (realloc $realloc)))
  (core func $sign-set-c (canon lower (func $sign-set-f) (memory $mem) (realloc $realloc)))
  (core func $publish-c (canon lower (func $publish-f) (memory $mem) (realloc $realloc)))
  (core instance $host-c
    (export "log" (func $log-c))
    (export "config-get" (func $config-get-c))
    (export "sign-set" (func $sign-set-c))
    (export "publish" (func $publish-c)))
  {{before}}

  (core module $Main
    (import "env" "memory" (memory 1))
    (import "env" "heap" (global $heap (mut i32)))
    (import "host" "log" (func $log (param i32 i32 i32)))
    (import "host" "config-get" (func $config-get (param i32 i32 i32)))
    (import "host" "sign-set" (func $sign-set (param i32 i32 i32 i32 i32 i32)))
    (import "host" "publish" (func $publish (param i32 i32 i32 i32 i32)))
    {{core_imports}}
    {{items}}
    ;; Log a `result`'s outcome at `warn`: "0" for ok, "1" and the error case's digit for an
    ;; error (sign-set and publish answers, read from their return area `ret`).
    (func $report (param $ret i32)
      (i32.store8 (i32.const 48) (i32.add (i32.const 48) (i32.load8_u (local.get $ret))))
      (i32.store8 (i32.const 49) (i32.add (i32.const 48) (i32.load8_u offset=4 (local.get $ret))))
      (call $log (i32.const 3) (i32.const 48) (i32.add (i32.const 1) (i32.load8_u (local.get $ret)))))
    {{data}}
    (func (export "init") (param $props i32) (param $n i32) (result i32)
      {{init}}
      (i32.const 0))
    (func (export "is-enabled") (result i32)
      {{is_enabled}}
      (i32.const 1))
    (func (export "shutdown")
      {{shutdown}})
    (func $handle (param $event i32) (param $len i32)
      {{handler}})
    (func (export "id-token-issued") (param i32 i32)
      (call $handle (local.get 0) (local.get 1))
      (global.set $heap (i32.const 4096)))
    (func (export "access-token-issued") (param i32 i32)
      (call $handle (local.get 0) (local.get 1))
      (global.set $heap (i32.const 4096))))
  (core instance $main (instantiate $Main
    (with "env" (instance $mem-i))
    (with "host" (instance $host-c))
    {{with}}))

  (type $declaration (record
    (field "claims" (option (list string)))
    (field "client-metadata" bool)
    (field "properties" (option (list string)))))
  (func $init (param "properties" (list (tuple string string))) (result (result $declaration (error string)))
    (canon lift (core func $main "init") (memory $mem) (realloc $realloc)))
  (func $is-enabled (result bool) (canon lift (core func $main "is-enabled")))
  (func $shutdown (canon lift (core func $main "shutdown")))
  (component $lifecycle-shim
    (type $d (record
      (field "claims" (option (list string)))
      (field "client-metadata" bool)
      (field "properties" (option (list string)))))
    (import "import-type-declaration" (type $di (eq $d)))
    (import "import-func-init" (func $init (param "properties" (list (tuple string string))) (result (result $di (error string)))))
    (import "import-func-is-enabled" (func $is-enabled (result bool)))
    (import "import-func-shutdown" (func $shutdown))
    (export $de "declaration" (type $di))
    (export "init" (func $init) (func (param "properties" (list (tuple string string))) (result (result $de (error string)))))
    (export "is-enabled" (func $is-enabled))
    (export "shutdown" (func $shutdown)))
  (instance $lifecycle (instantiate $lifecycle-shim
    (with "import-type-declaration" (type $declaration))
    (with "import-func-init" (func $init))
    (with "import-func-is-enabled" (func $is-enabled))
    (with "import-func-shutdown" (func $shutdown))))
  (export "tokenwatch:listener/lifecycle@{{version}}" (instance $lifecycle))

  (func $id-token-issued (param "event" {{event_type}})
    (canon lift (core func $main "id-token-issued") (memory $mem) (realloc $realloc)))
  (func $access-token-issued (param "event" (list u8))
    (canon lift (core func $main "access-token-issued") (memory $mem) (realloc $realloc)))
  (instance $id-token-listener (export "id-token-issued" (func $id-token-issued)))
  (instance $access-token-listener (export "access-token-issued" (func $access-token-issued)))
  (export "tokenwatch:listener/id-token-listener@{{version}}" (instance $id-token-listener))
  (export "tokenwatch:listener/access-token-listener@{{version}}" (instance $access-token-listener))
)
