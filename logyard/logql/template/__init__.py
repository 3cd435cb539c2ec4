"""Go's text/template as Loki's `line_format` and `label_format` run it: `lex` → `parse` → `execute`,
with the function map in `funcs` (Go builtins in `builtins`) and Go value printing in `values`."""
