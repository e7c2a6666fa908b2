;; Overwrites its copy of the event with `X`: the canary after it must see the claims as sent.
;;@ handler
(memory.fill (local.get $event) (i32.const 0x58) (local.get $len))
