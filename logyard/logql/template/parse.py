"""The parser of Go's text/template: tokens → a tree, with Go's parse errors.

Errors are `BadRequestError("template: <name>:<line>: <message>")`, worded as Go's
text/template/parse words them (`unexpected EOF`, `function "foo" not defined`, …).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from logyard.errors import BadRequestError

from .funcs import FUNCS
from .lex import (
    ASSIGN,
    BOOL,
    CHAR,
    COMMA,
    DECLARE,
    DOT,
    EOF_,
    ERROR,
    FIELD,
    IDENT,
    KEYWORD,
    LDELIM,
    LPAREN,
    NIL,
    NUMBER,
    PIPE,
    RAW,
    RDELIM,
    RPAREN,
    SPACE,
    STRING,
    TEXT,
    VARIABLE,
    Item,
    _goq,
    _parse_number,
    lex,
)


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
