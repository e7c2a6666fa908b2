;; `init` fails with a message that forges log lines: a newline, a fake host line, ANSI.
;;@ data
(data (i32.const 1024) "bad config\0a2026-01-01T00:00:00Z  INFO tokenwatch: listener \22canary\22 loaded\1b[2J\1b[32m ok\1b[0m")
;;@ init
(i32.store8 (i32.const 64) (i32.const 1))
(i32.store (i32.const 68) (i32.const 1024))
(i32.store (i32.const 72) (i32.const 88))
(return (i32.const 64))
