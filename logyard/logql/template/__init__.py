"""Go's text/template as Loki's `line_format` and `label_format` run it: `lex` → `parse` → `execute`,
with the function map in `funcs` (Go builtins in `builtins`); Go's fmt and time.Time, which the
templates print and compute with, are in `logyard.gocompat` (`fmt`, `timevalue`)."""
