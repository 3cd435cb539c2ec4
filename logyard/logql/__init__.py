"""LogQL: the lexer, parser and AST of Loki's query language, its log pipeline stages and metric evaluation."""
