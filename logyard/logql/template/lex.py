"""The lexer of Go's text/template, as Loki's line_format / label_format templates are tokenized.

Text runs, `{{` `}}` delimiters with trim markers (`{{- ` and ` -}}` eat the surrounding white
space), comments, and inside actions: fields, variables, identifiers, keywords, strings, raw
strings, characters, numbers, `|`, `(`, `)`, `:=`, `=`, `,`. A lexical error ends the token list
with an ERROR item whose text is Go's (`unclosed action`, `unterminated quoted string`, …).
"""

from __future__ import annotations

from dataclasses import dataclass

from logyard.gocompat.text import go_quote

EOF_, ERROR, TEXT, LDELIM, RDELIM, SPACE, FIELD, VARIABLE, IDENT, STRING, RAW, CHAR, NUMBER, BOOL, \
    NIL, DOT, PIPE, LPAREN, RPAREN, DECLARE, ASSIGN, COMMA, KEYWORD = range(23)

_KEYWORDS = {"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"}


@dataclass(slots=True)
class Item:
    typ: int
    val: str
    pos: int
    line: int

    def describe(self) -> str:
        """How Go's parser prints a token in `unexpected …` errors."""
        if self.typ == EOF_:
            return "EOF"
        if self.typ == ERROR:
            return self.val
        if self.typ == KEYWORD:
            return f"<{self.val}>"
        if len(self.val) > 10:
            return _goq(self.val[:10]) + "..."
        return _goq(self.val)


def _goq(s: str) -> str:
    return go_quote(s)


def _is_space(c: str) -> bool:
    return c in " \t\r\n"


def _is_alnum(c: str) -> bool:
    return c == "_" or c.isalnum()


def lex(text: str) -> list[Item]:
    """Tokenize a template the way Go's lexer does (delimiters `{{` `}}`, trim markers, comments)."""
    items: list[Item] = []
    pos = 0
    n = len(text)

    def line_at(p: int) -> int:
        return text.count("\n", 0, p) + 1

    while True:
        start = text.find("{{", pos)
        if start == -1:
            if pos < n:
                items.append(Item(TEXT, text[pos:], pos, line_at(pos)))
            items.append(Item(EOF_, "", n, line_at(n)))
            return items
        after = start + 2
        trim_left = text.startswith("-", after) and after + 1 < n and _is_space(text[after + 1])
        chunk = text[pos:start]
        if trim_left:
            chunk = chunk.rstrip(" \t\r\n")
        if chunk:
            items.append(Item(TEXT, chunk, pos, line_at(pos)))
        i = after + (2 if trim_left else 0)
        # comment
        j = i
        if text.startswith("/*", j):
            end = text.find("*/", j)
            if end == -1:
                items.append(Item(ERROR, "unclosed comment", j, line_at(j)))
                return items
            k = end + 2
            trim_right = False
            if text.startswith(" -}}", k):
                trim_right, k = True, k + 4
            elif text.startswith("}}", k):
                k += 2
            else:
                items.append(Item(ERROR, "comment ends before closing delimiter", k, line_at(k)))
                return items
            pos = k
            if trim_right:
                while pos < n and _is_space(text[pos]):
                    pos += 1
            continue
        items.append(Item(LDELIM, "{{", start, line_at(start)))
        pos, err = _lex_action(text, i, items, line_at)
        if err:
            return items


def _lex_action(text: str, i: int, items: list[Item], line_at) -> tuple[int, bool]:
    """Lex inside one action from i; returns (position after `}}`, whether an error ended lexing)."""
    n = len(text)
    paren = 0
    while True:
        # right delimiter, with or without trim marker
        if text.startswith(" -}}", i) or text.startswith("\t-}}", i) or text.startswith("\n-}}", i) \
                or text.startswith("\r-}}", i):
            if paren:
                items.append(Item(ERROR, "unclosed left paren", i, line_at(i)))
                return i, True
            items.append(Item(SPACE, text[i], i, line_at(i)))
            items.append(Item(RDELIM, "}}", i + 2, line_at(i)))
            i += 4
            while i < n and _is_space(text[i]):
                i += 1
            return i, False
        if text.startswith("}}", i):
            if paren:
                items.append(Item(ERROR, "unclosed left paren", i, line_at(i)))
                return i, True
            items.append(Item(RDELIM, "}}", i, line_at(i)))
            return i + 2, False
        if i >= n:
            items.append(Item(ERROR, "unclosed action", i, line_at(i)))
            return i, True
        c = text[i]
        if _is_space(c):
            j = i
            while j < n and _is_space(text[j]) and not text.startswith(" -}}", j):
                j += 1
            if j == i:
                j = i + 1
            items.append(Item(SPACE, text[i:j], i, line_at(i)))
            i = j
        elif c == "=":
            items.append(Item(ASSIGN, "=", i, line_at(i)))
            i += 1
        elif c == ":":
            if not text.startswith(":=", i):
                items.append(Item(ERROR, "expected :=", i, line_at(i)))
                return i, True
            items.append(Item(DECLARE, ":=", i, line_at(i)))
            i += 2
        elif c == "|":
            items.append(Item(PIPE, "|", i, line_at(i)))
            i += 1
        elif c == '"':
            j = i + 1
            while True:
                if j >= n or text[j] == "\n":
                    items.append(Item(ERROR, "unterminated quoted string", j, line_at(j)))
                    return j, True
                if text[j] == "\\":
                    j += 2
                    continue
                if text[j] == '"':
                    break
                j += 1
            items.append(Item(STRING, text[i : j + 1], i, line_at(i)))
            i = j + 1
        elif c == "`":
            j = text.find("`", i + 1)
            if j == -1:
                items.append(Item(ERROR, "unterminated raw quoted string", n, line_at(n)))
                return n, True
            items.append(Item(RAW, text[i : j + 1], i, line_at(i)))
            i = j + 1
        elif c == "'":
            j = i + 1
            while True:
                if j >= n or text[j] == "\n":
                    items.append(Item(ERROR, "unterminated character constant", j, line_at(j)))
                    return j, True
                if text[j] == "\\":
                    j += 2
                    continue
                if text[j] == "'":
                    break
                j += 1
            items.append(Item(CHAR, text[i : j + 1], i, line_at(i)))
            i = j + 1
        elif c == "$":
            j = i + 1
            while j < n and _is_alnum(text[j]):
                j += 1
            items.append(Item(VARIABLE, text[i:j], i, line_at(i)))
            i = j
        elif c == "." and not (i + 1 < n and text[i + 1].isdigit()):
            j = i + 1
            while j < n and _is_alnum(text[j]):
                j += 1
            if j == i + 1:
                items.append(Item(DOT, ".", i, line_at(i)))
            else:
                items.append(Item(FIELD, text[i:j], i, line_at(i)))
            i = j
        elif c.isdigit() or c in "+-." :
            j = i + 1
            while j < n and (_is_alnum(text[j]) or text[j] in ".+-" and text[j - 1] in "eEpP" or text[j] == "."):
                j += 1
            tok = text[i:j]
            if _parse_number(tok) is None:
                items.append(Item(ERROR, f"bad number syntax: {_goq(tok)}", i, line_at(i)))
                return j, True
            items.append(Item(NUMBER, tok, i, line_at(i)))
            i = j
        elif _is_alnum(c):
            j = i
            while j < n and _is_alnum(text[j]):
                j += 1
            word = text[i:j]
            if word in _KEYWORDS:
                typ = KEYWORD
            elif word in ("true", "false"):
                typ = BOOL
            elif word == "nil":
                typ = NIL
            else:
                typ = IDENT
            items.append(Item(typ, word, i, line_at(i)))
            i = j
        elif c == "(":
            paren += 1
            items.append(Item(LPAREN, "(", i, line_at(i)))
            i += 1
        elif c == ")":
            paren -= 1
            if paren < 0:
                items.append(Item(ERROR, "unexpected right paren", i, line_at(i)))
                return i, True
            items.append(Item(RPAREN, ")", i, line_at(i)))
            i += 1
        elif c == ",":
            items.append(Item(COMMA, ",", i, line_at(i)))
            i += 1
        else:
            items.append(Item(ERROR, f"unrecognized character in action: {_rune_desc(c)}", i, line_at(i)))
            return i, True


def _rune_desc(c: str) -> str:
    """Go's %#U: U+0041 'A'."""
    return f"U+{ord(c):04X} '{c}'" if c.isprintable() else f"U+{ord(c):04X}"


def _parse_number(tok: str) -> int | float | None:
    """A number constant: int when written as an integer (Go's `IsInt` for decimal/hex/octal/
    binary literals), float64 otherwise (`3.0` stays a float, as Go's idealConstant keeps it)."""
    t = tok.replace("_", "")
    low = t.lower()
    if low.lstrip("+-") in ("inf", "infinity", "nan"):
        return None
    try:
        body = low.lstrip("+-")
        sign = -1 if low.startswith("-") else 1
        if body.startswith("0x") and "p" not in body and "." not in body:
            return sign * int(body[2:], 16)
        if body.startswith("0b"):
            return sign * int(body[2:], 2)
        if body.startswith("0o"):
            return sign * int(body[2:], 8)
        if body.isdigit():
            return sign * int(body, 8 if len(body) > 1 and body[0] == "0" else 10)
        return float.fromhex(t) if "0x" in low else float(t)
    except ValueError:
        return None
