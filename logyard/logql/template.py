"""A Go `text/template` engine for Loki's `line_format` and `label_format`.

`parse_template(text)` builds a tree (text, actions, if / else if / else, range, with, variables,
pipelines, parenthesised calls, trim markers `{{- -}}`, comments) and raises `BadRequestError`
worded as Go's parser (`template: line:1: unclosed action`). `Template.render(labels, line, ts_ns)`
executes it with the label map as dot and Loki's function map; an execution error raises
`TemplateError` (Go's `template: line:1:3: executing "line" at <…>: …` text), which the stages
turn into `__error__=TemplateFormatErr`.

Loki runs templates with `missingkey=zero` over a `map[string]string`, so a missing `.field` is "".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from logyard.errors import BadRequestError
from logyard.logql.stages.gotext import go_quote

from .template_funcs import FUNCS, Context, FuncError, call_function
from .template_values import NO_VALUE, GoTime, go_type, sprint_value

__all__ = ["Template", "TemplateError", "parse_template"]


class TemplateError(Exception):
    """A template execution error; str() is Go's text, used as `__error_details__`."""


# --- lexer -------------------------------------------------------------------------------------

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


# --- tree --------------------------------------------------------------------------------------


@dataclass
class Node:
    pos: int

    def source(self) -> str:
        return ""


@dataclass
class TextNode(Node):
    text: str


@dataclass
class FieldNode(Node):
    idents: list[str]

    def source(self) -> str:
        return "." + ".".join(self.idents)


@dataclass
class VariableNode(Node):
    idents: list[str]  # "$x", then fields

    def source(self) -> str:
        return ".".join(self.idents)


@dataclass
class DotNode(Node):
    def source(self) -> str:
        return "."


@dataclass
class NilNode(Node):
    def source(self) -> str:
        return "nil"


@dataclass
class LiteralNode(Node):
    value: object
    text: str
    kind: str  # "bool", "number", "string"

    def source(self) -> str:
        return self.text


@dataclass
class IdentifierNode(Node):
    name: str

    def source(self) -> str:
        return self.name


@dataclass
class ChainNode(Node):
    node: Node
    fields: list[str]

    def source(self) -> str:
        inner = self.node.source()
        if isinstance(self.node, PipeNode):
            inner = "(" + inner + ")"
        return inner + "".join("." + f for f in self.fields)


@dataclass
class CommandNode(Node):
    args: list[Node]

    def source(self) -> str:
        parts = []
        for a in self.args:
            s = a.source()
            parts.append("(" + s + ")" if isinstance(a, PipeNode) else s)
        return " ".join(parts)


@dataclass
class PipeNode(Node):
    decls: list[str] = field(default_factory=list)
    is_assign: bool = False
    cmds: list[CommandNode] = field(default_factory=list)

    def source(self) -> str:
        s = " | ".join(c.source() for c in self.cmds)
        if self.decls:
            s = ", ".join(self.decls) + (" = " if self.is_assign else " := ") + s
        return s


@dataclass
class ActionNode(Node):
    pipe: PipeNode

    def source(self) -> str:
        return "{{" + self.pipe.source() + "}}"


@dataclass
class BranchNode(Node):
    kind: str  # if, range, with
    pipe: PipeNode
    body: list[Node]
    else_body: list[Node] | None


@dataclass
class LoopControlNode(Node):
    kind: str  # break, continue


@dataclass
class _End(Node):
    pass


@dataclass
class _Else(Node):
    chained: str | None  # "if" / "with" for else-if / else-with


# --- parser ------------------------------------------------------------------------------------


class _ParseFail(Exception):
    pass


class _Parser:
    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.items = lex(text)
        self.i = 0
        self.vars: list[str] = ["$"]
        self.last_line = 1
        self.range_depth = 0

    # token stream
    def next(self) -> Item:
        it = self.items[self.i] if self.i < len(self.items) else self.items[-1]
        self.i += 1
        self.last_line = it.line
        return it

    def backup(self, k: int = 1) -> None:
        self.i -= k

    def peek(self) -> Item:
        return self.items[self.i] if self.i < len(self.items) else self.items[-1]

    def next_non_space(self) -> Item:
        while True:
            it = self.next()
            if it.typ != SPACE:
                return it

    def peek_non_space(self) -> Item:
        j = self.i
        while j < len(self.items) and self.items[j].typ == SPACE:
            j += 1
        return self.items[min(j, len(self.items) - 1)]

    def errorf(self, msg: str) -> None:
        raise BadRequestError(f"template: {self.name}:{self.last_line}: {msg}")

    def unexpected(self, it: Item, context: str) -> None:
        if it.typ == ERROR:
            self.errorf(it.val)
        self.errorf(f"unexpected {it.describe()} in {context}")

    def expect(self, typ: int, context: str) -> Item:
        it = self.next_non_space()
        if it.typ != typ:
            self.unexpected(it, context)
        return it

    # grammar
    def parse(self) -> list[Node]:
        nodes: list[Node] = []
        while self.peek().typ != EOF_:
            n = self.text_or_action()
            if isinstance(n, _End):
                self.errorf("unexpected {{end}}")
            if isinstance(n, _Else):
                self.errorf("unexpected {{else}}")
            nodes.append(n)
        return nodes

    def item_list(self) -> tuple[list[Node], Node]:
        nodes: list[Node] = []
        while self.peek_non_space().typ != EOF_:
            n = self.text_or_action()
            if isinstance(n, (_End, _Else)):
                return nodes, n
            nodes.append(n)
        self.errorf("unexpected EOF")
        raise AssertionError("unreachable")

    def text_or_action(self) -> Node:
        it = self.next_non_space()
        if it.typ == TEXT:
            return TextNode(it.pos, it.val)
        if it.typ == LDELIM:
            return self.action()
        self.unexpected(it, "input")
        raise AssertionError("unreachable")

    def action(self) -> Node:
        it = self.next_non_space()
        if it.typ == KEYWORD:
            if it.val == "else":
                return self.else_control()
            if it.val == "end":
                self.expect(RDELIM, "end")
                return _End(it.pos)
            if it.val in ("if", "range", "with"):
                return self.control(it.val, it.pos)
            if it.val in ("break", "continue"):
                if self.range_depth == 0:
                    self.errorf(f"{{{{{it.val}}}}} outside {{{{range}}}}")
                self.expect(RDELIM, it.val)
                return LoopControlNode(it.pos, it.val)
            self.errorf(f"unexpected <{it.val}> in command")
        self.backup()
        tok = self.peek_non_space()
        return ActionNode(tok.pos, self.pipeline("command"))

    def else_control(self) -> Node:
        peek = self.peek_non_space()
        if peek.typ == KEYWORD and peek.val in ("if", "with"):
            return _Else(peek.pos, peek.val)
        self.expect(RDELIM, "else")
        return _Else(peek.pos, None)

    def control(self, kind: str, pos: int) -> Node:
        mark = len(self.vars)
        pipe = self.pipeline(kind)
        if kind == "range":
            self.range_depth += 1
        body, nxt = self.item_list()
        if kind == "range":
            self.range_depth -= 1
        else_body = None
        if isinstance(nxt, _Else):
            if nxt.chained is not None and ((kind == "if" and nxt.chained == "if") or
                                            (kind == "with" and nxt.chained == "with")):
                self.next_non_space()  # consume the chained keyword
                else_body = [self.control(nxt.chained, nxt.pos)]
            else:
                else_body, end = self.item_list()
                if not isinstance(end, _End):
                    self.errorf("expected end; found {{else}}")
        del self.vars[mark:]
        return BranchNode(pos, kind, pipe, body, else_body)

    def pipeline(self, context: str) -> PipeNode:
        tok = self.peek_non_space()
        pipe = PipeNode(tok.pos)
        # declarations
        while True:
            v = self.peek_non_space()
            if v.typ != VARIABLE:
                break
            save = self.i
            self.next_non_space()
            after = self.peek_non_space()
            if after.typ in (DECLARE, ASSIGN):
                self.next_non_space()
                pipe.is_assign = after.typ == ASSIGN
                if pipe.is_assign and v.val not in self.vars:
                    self.errorf(f"undefined variable {_goq(v.val)}")
                pipe.decls.append(v.val)
                self.vars.append(v.val)
                break
            if after.typ == COMMA:
                self.next_non_space()
                pipe.decls.append(v.val)
                self.vars.append(v.val)
                if context == "range" and len(pipe.decls) < 2:
                    nxt = self.peek_non_space()
                    if nxt.typ in (VARIABLE, RDELIM, RPAREN):
                        continue
                    self.errorf("range can only initialize variables")
                self.errorf(f"too many declarations in {context}")
            self.i = save
            break
        while True:
            it = self.next_non_space()
            if it.typ in (RDELIM, RPAREN):
                if not pipe.cmds:
                    self.errorf(f"missing value for {context}")
                for k, c in enumerate(pipe.cmds[1:]):
                    if isinstance(c.args[0], (LiteralNode, DotNode, NilNode)):
                        self.errorf(f"non executable command in pipeline stage {k + 2}")
                if it.typ == RPAREN:
                    self.backup()
                return pipe
            if it.typ in (BOOL, CHAR, DOT, FIELD, IDENT, NUMBER, NIL, RAW, STRING, VARIABLE, LPAREN):
                self.backup()
                pipe.cmds.append(self.command())
            else:
                self.unexpected(it, context)

    def command(self) -> CommandNode:
        cmd = CommandNode(self.peek_non_space().pos, [])
        while True:
            self.peek_non_space()
            while self.peek().typ == SPACE:
                self.next()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            it = self.next()
            if it.typ == SPACE:
                continue
            if it.typ in (RDELIM, RPAREN):
                self.backup()
            elif it.typ == PIPE:
                pass
            else:
                self.unexpected(it, "operand")
            break
        if not cmd.args:
            self.errorf("empty command")
        return cmd

    def operand(self) -> Node | None:
        node = self.term()
        if node is None:
            return None
        if self.peek().typ == FIELD:
            fields: list[str] = []
            while self.peek().typ == FIELD:
                fields.extend(self.next().val[1:].split("."))
            if isinstance(node, FieldNode):
                return FieldNode(node.pos, node.idents + fields)
            if isinstance(node, VariableNode):
                return VariableNode(node.pos, node.idents + fields)
            if isinstance(node, (LiteralNode, NilNode, DotNode)):
                self.errorf(f"unexpected . after term {_goq(node.source())}")
            return ChainNode(node.pos, node, fields)
        return node

    def term(self) -> Node | None:
        it = self.next_non_space()
        if it.typ == IDENT:
            if it.val not in FUNCS:
                self.errorf(f"function {_goq(it.val)} not defined")
            return IdentifierNode(it.pos, it.val)
        if it.typ == DOT:
            return DotNode(it.pos)
        if it.typ == NIL:
            return NilNode(it.pos)
        if it.typ == VARIABLE:
            if it.val not in self.vars:
                self.errorf(f"undefined variable {_goq(it.val)}")
            return VariableNode(it.pos, [it.val])
        if it.typ == FIELD:
            return FieldNode(it.pos, it.val[1:].split("."))
        if it.typ == BOOL:
            return LiteralNode(it.pos, it.val == "true", it.val, "bool")
        if it.typ == NUMBER:
            return LiteralNode(it.pos, _parse_number(it.val), it.val, "number")
        if it.typ == CHAR:
            try:
                value = _unquote_go(it.val[1:-1], "'")
            except ValueError:
                self.errorf(f"malformed character constant: {it.val}")
            if len(value) != 1:
                self.errorf(f"malformed character constant: {it.val}")
            return LiteralNode(it.pos, ord(value), it.val, "number")
        if it.typ == LPAREN:
            pipe = self.pipeline("parenthesized pipeline")
            tok = self.next_non_space()
            if tok.typ != RPAREN:
                self.errorf(f"unclosed right paren: unexpected {tok.describe()}")
            return pipe
        if it.typ in (STRING, RAW):
            if it.typ == RAW:
                value = it.val[1:-1].replace("\r", "")
            else:
                try:
                    value = _unquote_go(it.val[1:-1], '"')
                except ValueError:
                    self.errorf("invalid syntax")
            return LiteralNode(it.pos, value, it.val, "string")
        self.backup()
        return None


_ESC = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\",
        "'": "'", '"': '"'}


def _unquote_go(body: str, quote: str) -> str:
    """Go's strconv.Unquote body (escapes \\n \\t \\xHH \\uHHHH \\UHHHHHHHH \\ooo)."""
    out = []
    i = 0
    n = len(body)
    while i < n:
        c = body[i]
        if c != "\\":
            if c == quote:
                raise ValueError(body)
            out.append(c)
            i += 1
            continue
        if i + 1 >= n:
            raise ValueError(body)
        e = body[i + 1]
        if e in _ESC:
            if (e == "'" and quote != "'") or (e == '"' and quote != '"'):
                raise ValueError(body)
            out.append(_ESC[e])
            i += 2
        elif e in "xuU":
            size = {"x": 2, "u": 4, "U": 8}[e]
            hexd = body[i + 2 : i + 2 + size]
            if len(hexd) != size:
                raise ValueError(body)
            out.append(chr(int(hexd, 16)))
            i += 2 + size
        elif e in "01234567":
            octd = body[i + 1 : i + 4]
            if len(octd) != 3:
                raise ValueError(body)
            out.append(chr(int(octd, 8)))
            i += 4
        else:
            raise ValueError(body)
    return "".join(out)


# --- execution ---------------------------------------------------------------------------------


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


def truth(v: object) -> bool:
    """Go template truthiness: false, 0, nil and empty string/list/map are false."""
    if v is None or v is NO_VALUE:
        return False
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return v != 0
    if isinstance(v, (str, list, dict)):
        return len(v) > 0
    return True


class _State:
    def __init__(self, tmpl: Template, ctx: Context) -> None:
        self.tmpl = tmpl
        self.ctx = ctx
        self.vars: list[list] = []
        self.out: list[str] = []
        self.node: Node | None = None

    def errorf(self, msg: str) -> None:
        name = self.tmpl.name
        if self.node is None:
            raise TemplateError(f"template: {name}: {msg}")
        text = self.tmpl.text[: self.node.pos]
        line = text.count("\n") + 1
        nl = text.rfind("\n")
        col = self.node.pos if nl == -1 else self.node.pos - nl - 1
        context = self.node.source()
        if len(context) > 20:
            context = context[:20] + "..."
        raise TemplateError(f"template: {name}:{line}:{col}: executing {_goq(name)} at <{context}>: {msg}")

    def var(self, name: str) -> object:
        for k in range(len(self.vars) - 1, -1, -1):
            if self.vars[k][0] == name:
                return self.vars[k][1]
        self.errorf(f"undefined variable: {name}")
        raise AssertionError("unreachable")

    def set_var(self, name: str, value: object) -> None:
        for k in range(len(self.vars) - 1, -1, -1):
            if self.vars[k][0] == name:
                self.vars[k][1] = value
                return
        self.errorf(f"undefined variable: {name}")

    def walk(self, dot: object, nodes: list[Node]) -> None:
        for node in nodes:
            if isinstance(node, TextNode):
                self.out.append(node.text)
            elif isinstance(node, ActionNode):
                self.node = node
                value = self.eval_pipeline(dot, node.pipe)
                if not node.pipe.decls:
                    self.out.append(self.printable(value))
            elif isinstance(node, BranchNode):
                self.branch(dot, node)
            elif isinstance(node, LoopControlNode):
                raise _Break if node.kind == "break" else _Continue
            else:
                raise AssertionError(f"BUG: unknown template node {node!r}")

    def printable(self, v: object) -> str:
        return sprint_value(v)

    def branch(self, dot: object, node: BranchNode) -> None:
        mark = len(self.vars)
        self.node = node
        value = self.eval_pipeline(dot, node.pipe, bind=node.kind != "range")
        try:
            if node.kind == "if":
                self.walk(dot, node.body if truth(value) else (node.else_body or []))
            elif node.kind == "with":
                if truth(value):
                    self.walk(value, node.body)
                elif node.else_body:
                    self.walk(dot, node.else_body)
            else:
                self.range(dot, node, value)
        finally:
            del self.vars[mark:]

    def range(self, dot: object, node: BranchNode, value: object) -> None:
        if isinstance(value, dict):
            pairs = [(k, value[k]) for k in sorted(value)]
        elif isinstance(value, list):
            pairs = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            pairs = [(k, k) for k in range(value)]
        elif value is None or value is NO_VALUE:
            pairs = []
        else:
            self.errorf(f"range can't iterate over {sprint_value(value)}")
            return
        if not pairs:
            if node.else_body:
                self.walk(dot, node.else_body)
            return
        mark = len(self.vars)
        decls = node.pipe.decls
        for key, elem in pairs:
            if len(decls) == 1:
                self.vars.append([decls[0], elem])
            elif len(decls) == 2:
                self.vars.append([decls[0], key])
                self.vars.append([decls[1], elem])
            try:
                self.walk(elem, node.body)
            except _Break:
                break
            except _Continue:
                continue
            finally:
                del self.vars[mark:]

    def eval_pipeline(self, dot: object, pipe: PipeNode, bind: bool = True) -> object:
        value: object = _MISSING_ARG
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
        for name in pipe.decls if bind else ():
            if pipe.is_assign:
                self.set_var(name, value)
            else:
                self.vars.append([name, value])
        return value

    def eval_command(self, dot: object, cmd: CommandNode, final: object) -> object:
        first = cmd.args[0]
        self.node = cmd
        if isinstance(first, IdentifierNode):
            args = [self.eval_arg(dot, a) for a in cmd.args[1:]]
            if final is not _MISSING_ARG:
                args.append(final)
            return self.call(first.name, args, cmd)
        if isinstance(first, FieldNode):
            return self.eval_fields(dot, dot, first.idents, cmd.args[1:], final)
        if isinstance(first, VariableNode):
            base = self.var(first.idents[0])
            if len(first.idents) == 1:
                if len(cmd.args) > 1 or final is not _MISSING_ARG:
                    self.errorf(f"can't give argument to non-function {first.idents[0]}")
                return base
            return self.eval_fields(dot, base, first.idents[1:], cmd.args[1:], final)
        if isinstance(first, ChainNode):
            base = self.eval_arg(dot, first.node)
            return self.eval_fields(dot, base, first.fields, cmd.args[1:], final)
        if isinstance(first, NilNode):
            self.errorf("nil is not a command")
        if len(cmd.args) > 1 or final is not _MISSING_ARG:
            self.errorf(f"can't give argument to non-function {first.source()}")
        return self.eval_arg(dot, first)

    def eval_arg(self, dot: object, node: Node) -> object:
        self.node = node
        if isinstance(node, DotNode):
            return dot
        if isinstance(node, NilNode):
            return None  # an argument may be nil; a command may not (see eval_command)
        if isinstance(node, LiteralNode):
            return node.value
        if isinstance(node, FieldNode):
            return self.eval_fields(dot, dot, node.idents, [], _MISSING_ARG)
        if isinstance(node, VariableNode):
            base = self.var(node.idents[0])
            if len(node.idents) == 1:
                return base
            return self.eval_fields(dot, base, node.idents[1:], [], _MISSING_ARG)
        if isinstance(node, PipeNode):
            mark = len(self.vars)
            try:
                return self.eval_pipeline(dot, node)
            finally:
                del self.vars[mark:]
        if isinstance(node, ChainNode):
            base = self.eval_arg(dot, node.node)
            return self.eval_fields(dot, base, node.fields, [], _MISSING_ARG)
        if isinstance(node, IdentifierNode):
            return self.call(node.name, [], node)
        raise AssertionError(f"BUG: cannot evaluate {node!r}")

    def eval_fields(self, dot: object, receiver: object, idents: list[str], args: list[Node],
                    final: object) -> object:
        for k, name in enumerate(idents):
            last = k == len(idents) - 1
            call_args: list = []
            if last:
                call_args = [self.eval_arg(dot, a) for a in args]
                if final is not _MISSING_ARG:
                    call_args.append(final)
            receiver = self.field(receiver, name, call_args, root=(receiver is self.ctx.labels))
        return receiver

    def field(self, receiver: object, name: str, args: list, root: bool) -> object:
        if isinstance(receiver, dict):
            if args:
                self.errorf(f"{name} is not a method but has arguments")
            if name in receiver:
                return receiver[name]
            # missingkey=zero: "" for Loki's map[string]string, no value for other maps
            return "" if root else NO_VALUE
        if isinstance(receiver, GoTime):
            try:
                return time_method(receiver, name, args)
            except FuncError as exc:
                self.errorf(str(exc))
        if receiver is None or receiver is NO_VALUE:
            self.errorf(f"nil pointer evaluating interface {{}}.{name}")
        self.errorf(f"can't evaluate field {name} in type {go_type(receiver)}")
        raise AssertionError("unreachable")

    def call(self, name: str, args: list, node: Node) -> object:
        self.node = node
        try:
            return call_function(name, args, self.ctx)
        except FuncError as exc:
            self.errorf(str(exc))
            raise AssertionError("unreachable") from None


_MISSING_ARG = object()


def time_method(t: GoTime, name: str, args: list) -> object:
    """The time.Time methods a template may call as fields (`.Unix`, `.Format "…"`, …)."""
    simple = {
        "Unix": lambda: t.ns // 1_000_000_000,
        "UnixMilli": lambda: t.ns // 1_000_000,
        "UnixMicro": lambda: t.ns // 1_000,
        "UnixNano": lambda: t.ns,
        "UTC": lambda: GoTime(t.ns, 0, "UTC"),
        "Local": lambda: GoTime(t.ns, 0, "UTC"),
        "Year": lambda: t.parts().year,
        "Day": lambda: t.parts().day,
        "Hour": lambda: t.parts().hour,
        "Minute": lambda: t.parts().minute,
        "Second": lambda: t.parts().second,
        "Nanosecond": lambda: t.nanosecond,
        "YearDay": lambda: t.parts().timetuple().tm_yday,
        "String": lambda: str(t),
        "IsZero": lambda: t.is_zero(),
    }
    if name in simple:
        if args:
            raise FuncError(f"wrong number of args for {name}: want 0 got {len(args)}")
        return simple[name]()
    if name == "Format":
        if len(args) != 1 or not isinstance(args[0], str):
            raise FuncError(f"wrong number of args for Format: want 1 got {len(args)}")
        return t.format(args[0])
    raise FuncError(f"can't evaluate field {name} in type time.Time")


class Template:
    """A parsed template; `render` runs it for one log entry."""

    def __init__(self, name: str, text: str, root: list[Node]) -> None:
        self.name = name
        self.text = text
        self.root = root
        self.simple_field = self._simple_field()

    def _simple_field(self) -> str | None:
        """`{{.name}}` alone: Loki copies the label value directly (and "" when missing)."""
        if len(self.root) == 1 and isinstance(self.root[0], ActionNode):
            pipe = self.root[0].pipe
            if not pipe.decls and len(pipe.cmds) == 1 and len(pipe.cmds[0].args) == 1:
                arg = pipe.cmds[0].args[0]
                if isinstance(arg, FieldNode) and len(arg.idents) == 1:
                    return arg.idents[0]
        return None

    def render(self, labels: dict[str, str], line: str, ts_ns: int) -> str:
        """Execute with `labels` as dot; `__line__`/`__timestamp__` give the entry's line and time.
        Raises TemplateError on an execution error."""
        state = _State(self, Context(labels, line, ts_ns))
        state.vars.append(["$", labels])
        state.walk(labels, self.root)
        return "".join(state.out)

    def fields(self) -> list[str]:
        """Label names the template reads as `.name` (Loki's RequiredLabelNames)."""
        out: list[str] = []

        def visit(n: object) -> None:
            if isinstance(n, FieldNode):
                out.extend(n.idents)
            elif isinstance(n, ActionNode):
                visit(n.pipe)
            elif isinstance(n, PipeNode):
                for c in n.cmds:
                    visit(c)
            elif isinstance(n, CommandNode):
                for a in n.args:
                    visit(a)
            elif isinstance(n, BranchNode):
                visit(n.pipe)
                for x in n.body + (n.else_body or []):
                    visit(x)
            elif isinstance(n, ChainNode):
                visit(n.node)

        for node in self.root:
            visit(node)
        return list(dict.fromkeys(out))


def parse_template(text: str, name: str = "line") -> Template:
    """Parse a Go template; BadRequestError carries Go's message (`template: line:1: …`).

    `name` is what Go prints in errors: Loki names line_format templates "line" and
    label_format templates "label".
    """
    parser = _Parser(name, text)
    root = parser.parse()
    return Template(name, text, root)
