"""LogQL's syntax: the lexer, the parser, the AST (whose `str()` prints canonical LogQL) and the
checks Loki makes after parsing (`validate`). Nothing here evaluates a query."""
