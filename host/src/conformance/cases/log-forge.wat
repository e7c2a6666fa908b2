;; Logs a line that forges another: a newline, a fake host line, ANSI escapes, a bidi
;; override and a line separator.
;;@ data
(data (i32.const 1024) "hello\0a2026-01-01T00:00:00Z  INFO tokenwatch: listener \22canary\22 quarantined\1b[2J\1b[1A\e2\80\ae\e2\80\a8")
;;@ handler
(call $log (i32.const 2) (i32.const 1024) (i32.const 88))
