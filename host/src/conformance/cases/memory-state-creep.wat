;; Keeps what it grows: 64 pages (4 MiB) more at every event, held across events.
;;@ handler
(drop (memory.grow (i32.const 64)))
