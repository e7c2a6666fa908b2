;; The canary: declares no claims, so the event's last field is the whole claims set as JSON
;; text, and logs exactly that slice at `info`. The runner checks it saw every event, in
;; order, byte-identical to what was sent.
;;@ handler
(local $p i32) (local $field i32) (local $i i32)
(local.set $p (local.get $event))
;; Skip issuer, client-id, local-subject and client-metadata: len:u32le bytes, or 0xffffffff.
(loop $skip
  (local.set $field (i32.load (local.get $p)))
  (local.set $p (i32.add (local.get $p) (i32.const 4)))
  (if (i32.ne (local.get $field) (i32.const -1))
    (then (local.set $p (i32.add (local.get $p) (local.get $field)))))
  (local.set $i (i32.add (local.get $i) (i32.const 1)))
  (br_if $skip (i32.lt_u (local.get $i) (i32.const 4))))
(call $log (i32.const 2) (i32.add (local.get $p) (i32.const 4)) (i32.load (local.get $p)))
