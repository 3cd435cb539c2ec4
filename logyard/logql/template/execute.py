"""A Go `text/template` engine for Loki's `line_format` and `label_format`.

Lexer in `lex`, parser in `parse`, functions in `funcs`, Go value printing in
`logyard.gocompat.fmt`; this module executes. `parse_template(text)` builds a tree (text, actions, if / else if / else, range, with, variables,
pipelines, parenthesised calls, trim markers `{{- -}}`, comments) and raises `BadRequestError`
worded as Go's parser (`template: line:1: unclosed action`). `Template.render(labels, line, ts_ns)`
executes it with the label map as dot and Loki's function map; an execution error raises
`TemplateError` (Go's `template: line:1:3: executing "line" at <…>: …` text), which the stages
turn into `__error__=TemplateFormatErr`.

Loki runs templates with `missingkey=zero` over a `map[string]string`, so a missing `.field` is "".
"""

from __future__ import annotations

from logyard.gocompat.fmt import NO_VALUE, go_type, sprint_value
from logyard.gocompat.timevalue import GoTime

from .builtins import truth
from .funcs import Context, FuncError, call_function
from .lex import _goq
from .parse import (
    ActionNode,
    BranchNode,
    ChainNode,
    CommandNode,
    DotNode,
    FieldNode,
    IdentifierNode,
    LiteralNode,
    LoopControlNode,
    NilNode,
    Node,
    PipeNode,
    TextNode,
    VariableNode,
    _Parser,
)

__all__ = ["Template", "TemplateError", "parse_template"]


class TemplateError(Exception):
    """A template execution error; str() is Go's text, used as `__error_details__`."""



class _Break(Exception):
    pass


class _Continue(Exception):
    pass


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
