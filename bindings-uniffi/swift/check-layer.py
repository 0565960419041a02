#!/usr/bin/env python3
"""Checks the hand-written Swift against the generated bindings, without a Swift compiler.

Run by run-tests.sh with or without a toolchain (there is none on Linux CI here, so this is the check
that a change of the Rust exports breaks the Swift layer). It reads the generated Pgmq.swift (its
declarations: types, functions, initializers, enum cases, properties, with their argument labels and
which ones have defaults), the hand-written layer (Sources/Pgmq/*.swift, not Sources/Pgmq/Generated/)
and the tests (main.swift), and checks:

- the layer (strict): every call `f(label: ...)` / `x.f(...)` / `.f(...)` / `Type(...)` must match a
  declaration of the generated bindings or the layer, by name and argument labels (omitted arguments must
  have defaults), or be a known call of Swift or Foundation (KNOWN_CALLS below). Where the type of `x`
  is known (a typed variable, parameter or property, `self`, a chain such as `message.lease`, a type
  name), the function must be a member of that type: `receiver.next()` with `receiver: Receiver` needs
  `Receiver.next()`. Every member read `x.name` of a known type must exist, and every capitalised name
  (types, enum cases) must be declared or known (KNOWN_NAMES). A renamed generated function, label,
  property, type or case therefore fails here.
- the layer does not redeclare a generated member (same type, name and labels), and adds no initializer
  or method that a call could not tell apart from a generated one by its labels (`QueueOptions()`).
- the tests (lenient): calls of names the bindings or the layer declare must use declared labels, and
  members read on a variable of a known type must exist; other names (the harness, Foundation) pass.
- the package layout: Package.swift's targets and platforms, and that Sources/PgmqFFI/module.modulemap
  declares the module and header of the generated PgmqFFI.modulemap and the library `pgmq_uniffi`.
- the check itself (mutation test): removing, or changing the first label of, each generated declaration
  the layer uses must make the layer check fail.

Each of these counts as one test; the last line is `swift-layer: N passed, M failed`.

This is a reader of Swift, not a compiler: it follows the layer's style (typed variables, one
declaration per line) and does not check types of arguments, only names and labels. `swiftc` type-checks
everything where a toolchain exists.

Usage: check-layer.py [GENERATED_PGMQ_SWIFT [GENERATED_MODULEMAP]]
"""
from __future__ import annotations

import dataclasses
import pathlib
import re
import sys

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent

# Swift and Foundation calls the layer makes, by name, with the argument labels it uses.
KNOWN_CALLS: dict[str, list[tuple[str, ...]]] = {
    "String": [("decoding", "as"), ("_",)],
    "Data": [("_",)],
    "UInt64": [("_",)],
    "milliseconds": [("_",)],
    "encode": [("_",)],
    "decode": [("_", "from")],
    "map": [("_",)],
    "quotientAndRemainder": [("dividingBy",)],
    "multipliedReportingOverflow": [("by",)],
    "addingReportingOverflow": [("_",)],
    "JSONEncoder": [()],
    "JSONDecoder": [()],
    "withTaskCancellationHandler": [("operation", "onCancel")],
}
# Swift and Foundation names (types, protocols, members) the layer uses.
KNOWN_NAMES = {
    "Foundation", "Swift", "Data", "String", "Bool", "Int", "Int32", "Int64", "UInt64", "UInt32", "Double", "Void",
    "Duration", "JSONEncoder", "JSONDecoder", "Encodable", "Decodable", "Error", "Sendable", "Hashable",
    "CaseIterable", "CustomStringConvertible", "AsyncSequence", "AsyncIteratorProtocol", "Task", "UTF8",
    "Optional", "Element", "T", "Type", "Self",
    # members
    "zero", "max", "components", "isCancelled", "self", "rawValue", "description", "milliseconds", "init",
    "map", "utf8",
    # the error of a `catch` block without a pattern
    "error",
}
KEYWORDS = {
    "if", "guard", "while", "switch", "return", "catch", "for", "in", "as", "is", "try", "await", "throw",
    "throws", "let", "var", "case", "where", "else", "repeat", "super", "some", "any", "inout", "get", "set",
    "func", "do", "defer", "true", "false", "nil", "rethrows", "async", "import", "public", "private",
    "fileprivate", "internal", "open", "static", "final", "mutating", "override", "class", "struct", "enum",
    "extension", "protocol", "typealias", "subscript", "deinit", "init", "self", "Self", "lazy", "weak",
    "unowned", "indirect", "convenience", "required", "dynamic", "optional", "associatedtype", "operator",
    "break", "continue", "fallthrough", "default",
    # the wildcard pattern (`case .RequestFailed(let reason, _, _)`)
    "_",
}
TYPE_KEYWORDS = ("struct", "class", "enum", "protocol", "actor", "extension")


def code_only(text: str) -> str:
    """`text` with comments and the contents of string literals blanked (same length and lines), the code
    of string interpolations kept."""
    out = list(text)
    n = len(text)

    def blank(a: int, b: int) -> None:
        for k in range(a, min(b, n)):
            if out[k] != "\n":
                out[k] = " "

    def code(i: int, in_interpolation: bool) -> int:
        depth = 0
        while i < n:
            c = text[i]
            if text.startswith("//", i):
                j = text.find("\n", i)
                j = n if j < 0 else j
                blank(i, j)
                i = j
            elif text.startswith("/*", i):
                j, nest = i + 2, 1
                while j < n and nest:
                    if text.startswith("/*", j):
                        nest, j = nest + 1, j + 2
                    elif text.startswith("*/", j):
                        nest, j = nest - 1, j + 2
                    else:
                        j += 1
                blank(i, j)
                i = j
            elif c == '"' or (c == "#" and re.match(r'#+"', text[i:])):
                i = string(i)
            elif c == "(":
                depth += 1
                i += 1
            elif c == ")":
                if in_interpolation and depth == 0:
                    return i
                depth -= 1
                i += 1
            else:
                i += 1
        return i

    def string(i: int) -> int:
        hashes = 0
        while text.startswith("#", i + hashes):
            hashes += 1
        i += hashes
        multi = text.startswith('"""', i)
        quote = '"""' if multi else '"'
        i += len(quote)
        close = quote + "#" * hashes
        escape = "\\" + "#" * hashes
        while i < n:
            if text.startswith(close, i):
                return i + len(close)
            if text.startswith(escape + "(", i):
                blank(i, i + len(escape) + 1)
                end = code(i + len(escape) + 1, True)
                blank(end, end + 1)
                i = end + 1
            elif text.startswith(escape, i):
                blank(i, i + len(escape) + 1)
                i += len(escape) + 1
            else:
                if text[i] != "\n":
                    out[i] = " "
                i += 1
        return i

    code(0, False)
    return "".join(out)


def matching(code: str, i: int) -> int:
    """The index of the bracket closing the one at `i` (`(`, `[` or `{`), or len(code)."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack = [pairs[code[i]]]
    j = i + 1
    while j < len(code) and stack:
        c = code[j]
        if c in pairs:
            stack.append(pairs[c])
        elif c == stack[-1]:
            stack.pop()
        j += 1
    return j - 1


def split_top(text: str, angles: bool = False) -> list[str]:
    """`text` split at the commas outside brackets; with `angles` (a parameter list, where `<` and `>`
    enclose generic arguments), outside angle brackets too (`->` is not one)."""
    parts, depth, cur = [], 0, ""
    opening, closing = ("([{<", ")]}>") if angles else ("([{", ")]}")
    for k, ch in enumerate(text):
        if ch in opening:
            depth += 1
        elif ch in closing and not (ch == ">" and text[k - 1 : k] == "-"):
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return parts


def base_type(t: str | None) -> str | None:
    """The named type of a type expression: `Receiver?` -> Receiver; collections and functions -> None."""
    if not t:
        return None
    t = re.sub(r"@\w+(\([^)]*\))?", "", t).strip()
    t = re.sub(r"^(inout|some|any)\s+", "", t)
    m = re.fullmatch(r"([A-Za-z_][\w.]*)\s*(<.*>)?\s*[?!]*", t.strip())
    if not m:
        return None
    return m.group(1).split(".")[-1]


@dataclasses.dataclass
class Param:
    label: str
    name: str
    type: str | None
    has_default: bool


@dataclasses.dataclass
class Decl:
    kind: str  # func, init, case, var, type
    name: str
    owner: str | None
    params: list[Param] | None  # None: not callable with labels (a property, a case without values)
    returns: str | None
    file: str
    line: int
    static: bool = False
    computed: bool = False  # a property with a getter body
    initial: bool = False  # a property with an initial value

    def labels(self) -> tuple[str, ...]:
        return tuple(p.label for p in self.params or [])

    def signature(self) -> str:
        where = f"{self.owner}." if self.owner else ""
        if self.params is None:
            return f"{where}{self.name}"
        return f"{where}{self.name}(" + "".join(f"{p.label}:" for p in self.params) + ")"


def parse_params(text: str) -> list[Param]:
    params = []
    for part in split_top(text, angles=True):
        head, sep, rest = part.partition(":")
        words = head.split()
        if not sep or not words:
            continue
        depth, eq = 0, -1
        for k, ch in enumerate(rest):
            if ch in "([{<":
                depth += 1
            elif ch in ")]}" or (ch == ">" and rest[k - 1 : k] != "-"):
                depth -= 1
            elif ch == "=" and depth == 0 and rest[k + 1 : k + 2] != "=":
                eq = k
                break
        type_text = rest if eq < 0 else rest[:eq]
        params.append(Param(words[0], words[-1], type_text.strip(), eq >= 0))
    return params


@dataclasses.dataclass
class Scope:
    start: int  # index of `{`
    end: int  # index of `}`
    type_name: str | None  # a type or extension body: its name
    kind: str  # type, code


@dataclasses.dataclass
class Local:
    name: str
    type: str | None
    pos: int
    scope: Scope | None
    via: str | None = None  # `let x = expr`: the expression to resolve


class SwiftFile:
    """One file's code, scopes and declarations."""

    def __init__(self, path: pathlib.Path, text: str | None = None):
        self.path = path
        self.text = path.read_text(encoding="utf-8") if text is None else text
        self.code = code_only(self.text)
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", self.code)]
        self.scopes = self._scopes()
        self.decls: list[Decl] = []
        self.locals: list[Local] = []
        self.types: dict[str, tuple[str, list[str]]] = {}  # name -> (kind, inherited names)
        self._declarations()

    def line(self, pos: int) -> int:
        lo, hi = 0, len(self.line_starts)
        while lo + 1 < hi:
            mid = (lo + hi) // 2
            if self.line_starts[mid] <= pos:
                lo = mid
            else:
                hi = mid
        return lo + 1

    def rel(self) -> str:
        try:
            return self.path.resolve().relative_to(ROOT).as_posix()
        except ValueError:
            return self.path.as_posix()

    def _scopes(self) -> list[Scope]:
        scopes, stack, boundary = [], [], 0
        keyword = re.compile(
            r"\b(struct|class|enum|protocol|actor|extension|func|init|deinit|subscript|var|let|if|guard|for|"
            r"while|switch|do|catch|else|repeat|defer|return|get|set|willSet|didSet|in)\b"
        )
        for m in re.finditer(r"[{}]", self.code):
            if m.group() == "{":
                header = self.code[boundary : m.start()]
                kws = list(keyword.finditer(header))
                scope = Scope(m.start(), len(self.code), None, "code")
                if kws and kws[-1].group(1) in TYPE_KEYWORDS:
                    name = re.match(r"\s*`?([A-Za-z_][\w.]*)", header[kws[-1].end() :])
                    if name:
                        scope.type_name = name.group(1).split(".")[-1]
                        scope.kind = "type"
                stack.append(scope)
                scopes.append(scope)
            elif stack:
                stack.pop().end = m.start()
            boundary = m.end()
        return scopes

    def scope_at(self, pos: int) -> Scope | None:
        best = None
        for s in self.scopes:
            if s.start < pos < s.end and (best is None or s.start > best.start):
                best = s
        return best

    def type_at(self, pos: int) -> str | None:
        """The type whose body (or a method of which) holds `pos`."""
        best = None
        for s in self.scopes:
            if s.kind == "type" and s.start < pos < s.end and (best is None or s.start > best.start):
                best = s
        return best.type_name if best else None

    def _body_after(self, pos: int) -> Scope | None:
        m = re.compile(r"[{\n]").search(self.code, pos)
        while m and m.group() == "\n":
            # a body may start on a later line (a long signature), but not after another declaration
            rest = self.code[m.end() :]
            if re.match(r"\s*(public|private|internal|func|init|var|let|case|@|#|}|$)", rest):
                return None
            m = re.compile(r"[{\n]").search(self.code, m.end())
        if not m:
            return None
        for s in self.scopes:
            if s.start == m.start():
                return s
        return None

    def _declarations(self) -> None:
        code, rel = self.code, self.rel()
        for m in re.finditer(r"\b(struct|class|enum|protocol|actor)\s+`?(\w+)`?([^{]*)\{", code):
            inherited = re.findall(r"[A-Za-z_]\w*", m.group(3).split("where")[0]) if ":" in m.group(3) else []
            self.types[m.group(2)] = (m.group(1), inherited)
            outer = self.type_at(m.start())  # a nested type is a member of the type around it
            self.decls.append(Decl("type", m.group(2), outer, None, m.group(2), rel, self.line(m.start()), True))
        for m in re.finditer(r"\btypealias\s+(\w+)", code):
            self.decls.append(Decl("type", m.group(1), None, None, None, rel, self.line(m.start())))
        for m in re.finditer(r"\b(static\s+|class\s+)?func\s+`?(\w+)`?\s*(<[^>]*>)?\s*\(", code):
            self._callable("func", m.group(2), m.end() - 1, m.start(), bool(m.group(1)))
        for m in re.finditer(r"(?<![.\w])init[?!]?\s*(<[^>]*>)?\s*\(", code):
            self._callable("init", "init", m.end() - 1, m.start(), True)
        for m in re.finditer(r"\bcase\s+((?:`?\w+`?(?:\s*=\s*[^,\n]+)?\s*,\s*)*`?\w+`?)\s*(\(|=|\n|$)", code):
            scope = self.scope_at(m.start())
            if not scope or scope.kind != "type":
                continue
            owner = scope.type_name
            if m.group(2) == "(":
                self._callable("case", m.group(1).strip("`"), m.end() - 1, m.start(), True)
                continue
            for name in re.findall(r"`?(\w+)`?\s*(?:=\s*[^,]+)?(?:,|$)", m.group(1)):
                self.decls.append(Decl("case", name, owner, None, owner, rel, self.line(m.start()), True))
        for m in re.finditer(r"\b(static\s+)?(var|let)\s+`?(\w+)`?\s*(?::\s*([^=\n{]+))?", code):
            scope = self.scope_at(m.start())
            name, type_text = m.group(3), (m.group(4) or "").strip() or None
            if scope and scope.kind == "type":
                callable_: list[Param] | None = [] if type_text and "->" in type_text else None
                follows = code[m.end() : m.end() + 1]
                self.decls.append(
                    Decl("var", name, scope.type_name, callable_, base_type(type_text), rel, self.line(m.start()),
                         bool(m.group(1)), computed=follows == "{", initial=follows == "=")
                )
            else:
                via = None
                if not type_text:
                    rhs = re.match(r"\s*=\s*(?:try[?!]?\s+)?(?:await\s+)?([\w.]+(?:\()?)", code[m.end() :])
                    via = rhs.group(1) if rhs else None
                if scope is None:  # a global
                    callable_ = [] if type_text and "->" in type_text else None
                    self.decls.append(Decl("var", name, None, callable_, base_type(type_text), rel, self.line(m.start())))
                self.locals.append(Local(name, base_type(type_text), m.start(), scope, via))
        for m in re.finditer(r"\b(?:if|guard)\s+(?:let|var)\s+(\w+)\s*=\s*([\w.]+)", code):
            self.locals.append(Local(m.group(1), None, m.start(), self.scope_at(m.start()), m.group(2)))

    def _callable(self, kind: str, name: str, paren: int, start: int, static: bool) -> None:
        close = matching(self.code, paren)
        params = parse_params(self.code[paren + 1 : close])
        scope = self.scope_at(start)
        owner = scope.type_name if scope and scope.kind == "type" else None
        after = self.code[close + 1 : close + 200]
        ret = re.match(r"\s*(?:async\s*)?(?:throws|rethrows)?\s*(?:async\s*)?->\s*([^{\n]+)", after)
        returns = base_type(ret.group(1)) if ret else None
        if kind in ("init", "case"):
            returns = owner
        if kind == "init" and owner is None:
            return  # `init(` outside a type: not a declaration this reader understands
        self.decls.append(Decl(kind, name, owner, params, returns, self.rel(), self.line(start), static))
        body = self._body_after(close + 1)
        for p in params:
            if p.name != "_":
                self.locals.append(Local(p.name, base_type(p.type), close, body))


class Index:
    """The declarations of several files, by name and by owner."""

    def __init__(self, files: list[SwiftFile]):
        self.files = files
        self.by_name: dict[str, list[Decl]] = {}
        self.types: dict[str, tuple[str, list[str]]] = {}
        for f in files:
            self.types.update(f.types)
            for d in f.decls:
                self.by_name.setdefault(d.name, []).append(d)
        # Enums with raw values get `init?(rawValue:)`.
        for f in files:
            for tname, (kind, inherited) in f.types.items():
                if kind == "enum" and inherited[:1] and inherited[0] in ("String", "Int", "UInt8", "Int64", "UInt64"):
                    raw = Decl("init", "init", tname, [Param("rawValue", "rawValue", inherited[0], False)], tname, f.rel(), 0)
                    self.by_name.setdefault("init", []).append(raw)
                    self.by_name.setdefault("rawValue", []).append(Decl("var", "rawValue", tname, None, inherited[0], f.rel(), 0))
                if kind == "enum" and "CaseIterable" in inherited:
                    self.by_name.setdefault("allCases", []).append(Decl("var", "allCases", tname, None, None, f.rel(), 0, True))
        # Structs without an initializer get their memberwise one (stored properties, in order).
        for f in files:
            for tname, (kind, _) in f.types.items():
                if kind != "struct" or any(d.kind == "init" and d.owner == tname for d in self.by_name.get("init", [])):
                    continue
                stored = [d for d in f.decls if d.kind == "var" and d.owner == tname and not (d.static or d.computed)]
                params = [Param(d.name, d.name, d.returns, d.initial) for d in stored]
                self.by_name.setdefault("init", []).append(Decl("init", "init", tname, params, tname, f.rel(), stored[0].line if stored else 0))

    def owners(self, type_name: str) -> set[str]:
        """`type_name` and the declared types it inherits from (protocols included), transitively."""
        seen, todo = set(), [type_name]
        while todo:
            t = todo.pop()
            if t in seen:
                continue
            seen.add(t)
            todo.extend(self.types.get(t, ("", []))[1])
        return seen

    def members(self, type_names: set[str], name: str) -> list[Decl]:
        """The members `name` of the types (their properties, methods, cases, nested types)."""
        owners = set().union(*(self.owners(t) for t in type_names)) if type_names else set()
        return [d for d in self.by_name.get(name, []) if d.owner in owners]

    def declared(self, name: str) -> bool:
        return name in self.by_name or name in self.types


def accepts(decl: Decl, labels: tuple[str, ...], trailing_closure: bool) -> bool:
    params = decl.params
    if params is None:
        return False
    if decl.kind == "var":  # a closure-typed property: unlabeled arguments
        return all(label == "_" for label in labels)
    i = 0
    for label in labels:
        while i < len(params) and params[i].label != label:
            if not params[i].has_default:
                return False
            i += 1
        if i == len(params):
            return False
        i += 1
    required = [p for p in params[i:] if not p.has_default]
    if trailing_closure and required and required[-1] is params[-1]:
        required.pop()
    return not required


@dataclasses.dataclass
class Finding:
    line: int
    text: str


class Checker:
    CALL = re.compile(r"(?<![\w`])(`?[A-Za-z_]\w*`?)(<[\w\s,.:?\[\]]*>)?\(")
    MEMBER = re.compile(r"\.\s*(`?[A-Za-z_]\w*`?)(?![\w`(])")
    CAPITAL = re.compile(r"(?<![\w.`])`?([A-Z]\w*)`?")

    def __init__(self, index: Index, generated: set[str]):
        self.index = index
        self.generated = generated  # the file names of the generated declarations
        self.used: set[int] = set()  # id() of the generated declarations the checked code resolved to
        self.used_labels: dict[int, list[str]] = {}  # id() of one of them -> the labels calls passed it

    # -- types of expressions ------------------------------------------------------------------------

    def local_types(self, f: SwiftFile, name: str, pos: int, depth: int = 0) -> set[str]:
        best: Local | None = None
        for loc in f.locals:
            if loc.name != name or loc.pos >= pos:
                continue
            if loc.scope is not None and not (loc.scope.start <= pos <= loc.scope.end):
                continue
            if best is None or (loc.scope.start if loc.scope else -1) >= (best.scope.start if best.scope else -1):
                best = loc
        if best is None:
            return set()
        if best.type:
            return {best.type}
        if best.via and depth < 4:
            if best.via.endswith("("):
                return self.call_types(f, best.via[:-1], best.pos, depth + 1)
            return self.chain_types(f, best.via, best.pos, depth + 1)
        return set()

    def chain_types(self, f: SwiftFile, chain: str, pos: int, depth: int = 0) -> set[str]:
        """The declared types `a.b.c` (or `f().b`, `a.m().c`) may have at `pos` (empty: unknown)."""
        parts, cur, level = [], "", 0
        for ch in chain:
            level += {"(": 1, ")": -1}.get(ch, 0)
            if ch == "." and level == 0:
                parts.append(cur)
                cur = ""
            else:
                cur += ch
        parts.append(cur)
        calls = [p.rstrip("?!").endswith(")") for p in parts]
        parts = [re.sub(r"\(.*\)$", "", p.rstrip("?!")).rstrip("?!").strip("`") for p in parts]
        if not parts or not all(parts):
            return set()
        first = parts[0]
        if calls[0]:
            types = self.call_types(f, first, pos, depth + 1)
        elif first in ("self", "Self"):
            t = f.type_at(pos)
            types = {t} if t else set()
        elif first[:1].isupper() and first in self.index.types:
            types = {first}
        else:
            types = self.local_types(f, first, pos, depth)
            if not types:
                t = f.type_at(pos)
                if t:
                    types = {d.returns for d in self.index.members({t}, first) if d.kind == "var" and d.returns}
        for part in parts[1:]:
            if not types:
                return set()
            types = {d.returns for d in self.index.members(types, part) if d.returns}
        return {t for t in types if t in self.index.types}

    def call_types(self, f: SwiftFile, callee: str, pos: int, depth: int) -> set[str]:
        """The declared types a call of `callee` (`Type`, `x.method`, `Type.static`) returns."""
        if "." not in callee:
            if callee in self.index.types:
                return {callee}
            return {d.returns for d in self.index.by_name.get(callee, []) if d.kind == "func" and d.returns}
        receiver, _, name = callee.rpartition(".")
        types = self.chain_types(f, receiver, pos, depth)
        found = {d.returns for d in self.index.members(types, name) if d.returns} if types else set()
        return {t for t in found if t in self.index.types}

    # -- the checks ----------------------------------------------------------------------------------

    def receiver_before(self, code: str, start: int) -> tuple[bool, str | None]:
        """Whether `code[start]` follows a `.`, and the receiver chain before that dot: names and calls,
        `message.lease`, `defaults().conventions` (None: none, or not such a chain)."""
        j = start - 1
        while j >= 0 and code[j] in " \t\n":
            j -= 1
        if j < 0 or code[j] != ".":
            return False, None
        end = j
        j -= 1
        while j >= 0:
            while j >= 0 and code[j] in "?!":
                j -= 1
            if j >= 0 and code[j] == ")":  # a call in the chain: `name(...)`
                depth = 0
                while j >= 0:
                    depth += {")": 1, "(": -1}.get(code[j], 0)
                    j -= 1
                    if depth == 0:
                        break
                if j < 0 or not (code[j].isalnum() or code[j] in "_`"):
                    return True, None  # a parenthesised expression or a tuple
            word_end = j
            while j >= 0 and (code[j].isalnum() or code[j] in "_`"):
                j -= 1
            if j == word_end:
                return True, None  # `]`, a literal, an operator: not a chain
            if j >= 0 and code[j] == "." and j > 0 and code[j - 1] not in " \t\n(,[:=":
                j -= 1
                continue
            break
        chain = code[j + 1 : end].strip()
        if not chain or chain.startswith(".") or (j >= 0 and code[j] == "."):
            return True, None
        return True, chain
    def check(self, f: SwiftFile, strict: bool) -> tuple[int, list[Finding]]:
        code, findings, checked = f.code, [], 0
        for m in self.CALL.finditer(code):
            name = m.group(1).strip("`")
            start = m.start(1)
            before = code[max(0, start - 40) : start]
            if name in KEYWORDS - {"init"} or re.search(r"(\bfunc|@|#)\s*$", before):
                continue
            dotted, chain = self.receiver_before(code, start)
            if name == "init" and not dotted:
                continue  # a declaration
            if re.search(r"\bcase\s+$", before) and not dotted:
                continue  # an enum case declaration
            close = matching(code, m.end() - 1)
            args = split_top(code[m.end() : close])
            labels: tuple[str, ...] | None = None  # None: a pattern, where labels may be left out
            if not any(re.match(r"\s*(let|var)\s", a) for a in args):
                label_matches = [re.match(r"\s*`?(\w+)`?\s*:(?!:)", a) for a in args]
                labels = tuple(x.group(1) if x else "_" for x in label_matches)
            line_start = code.rfind("\n", 0, m.start()) + 1
            in_condition = re.match(r"\s*(\}\s*else\s+)?(for|if|guard|while|switch)\b", code[line_start : m.start()])
            trailing = bool(re.match(r"\s*\{", code[close + 1 :])) and not in_condition  # else: the body's brace
            candidates, owner_known, owner_types = self.candidates(f, name, dotted, chain, m.start())
            decls = [d for d in candidates if isinstance(d, Decl) and d.params is not None]
            known = [d for d in candidates if not isinstance(d, Decl)]
            line = f.line(m.start())
            if not decls and not known:
                if owner_known:
                    checked += 1
                    findings.append(Finding(line, f"{chain or 'self'}.{name}(...): {'/'.join(sorted(owner_types))} has no member {name}"))
                elif strict:
                    checked += 1
                    findings.append(Finding(line, f"{name}(...) is declared neither by the generated bindings nor by the layer, and is not a known Swift/Foundation call (KNOWN_CALLS in check-layer.py)"))
                continue
            if not strict and not decls:
                continue  # Swift's or Foundation's: not checked in the tests
            checked += 1
            if labels is None:
                matched = decls + known
            else:
                matched = [d for d in decls if accepts(d, labels, trailing)] + [
                    d for d in known if labels == d or (trailing and labels == d[:-1])
                ]
            if not matched:
                if not strict and dotted and chain is not None and not owner_known:
                    continue  # a method of a variable of a type this reader does not know (a Task, a lock)
                shown = sorted({d.signature() for d in decls} | {f"{name}(" + "".join(f"{x}:" for x in d) + ")" for d in known})
                findings.append(Finding(line, f"{name}(" + "".join(f"{x}:" for x in labels or ()) + f") matches no declaration: {'; '.join(shown)}"))
                continue
            for d in matched:
                if isinstance(d, Decl) and d.file in self.generated:
                    self.used.add(id(d))
                    passed = self.used_labels.setdefault(id(d), [])
                    passed.extend(x for x in labels or () if x != "_" and x not in passed)
        for m in self.MEMBER.finditer(code):
            name = m.group(1).strip("`")
            if name in KEYWORDS - {"self", "init", "internal", "default"} or code[m.start() - 1 : m.start()] == ".":
                continue
            dotted, chain = self.receiver_before(code, m.start(1))
            if chain is None:
                if dotted and strict and code[m.start() - 1 : m.start()] not in ")]" and not self.index.declared(name) and name not in KNOWN_NAMES:
                    findings.append(Finding(f.line(m.start()), f".{name} is declared neither by the generated bindings nor by the layer, nor known (KNOWN_NAMES)"))
                elif dotted and code[m.start() - 1 : m.start()] not in ")]":
                    self.mark_used(self.index.by_name.get(name, []))
                continue
            if name in ("self", "Type", "Protocol", "init"):
                continue  # members of every type
            types = self.chain_types(f, chain, m.start())
            if not types:
                continue
            checked += 1
            found = self.index.members(types, name)
            if not found:
                findings.append(Finding(f.line(m.start()), f"{chain}.{name}: {'/'.join(sorted(types))} has no member {name}"))
            self.mark_used(found)
        if strict:
            checked += self.check_identifiers(f, findings)
            for m in self.CAPITAL.finditer(code):
                name = m.group(1)
                if not self.index.declared(name) and name not in KNOWN_NAMES:
                    findings.append(Finding(f.line(m.start()), f"{name} is declared neither by the generated bindings nor by the layer, nor known (KNOWN_NAMES)"))
                else:
                    self.mark_used(self.index.by_name.get(name, []))
        return checked, findings

    IDENTIFIER = re.compile(r"(?<![\w.`$\\])`?([a-z_]\w*)`?(?![\w`])")

    def check_identifiers(self, f: SwiftFile, findings: list[Finding]) -> int:
        """Each lowercase name used as a value (not after a dot, not a label or a declaration) must be a
        local, a parameter, a member of the enclosing type (implicit `self`), a global, or known."""
        code, checked = f.code, 0
        skip = []  # parameter lists of declarations
        for m in re.finditer(r"(?:\bfunc\s+`?\w+`?\s*(?:<[^>]*>)?|(?<![.\w])init[?!]?|\bcase\s+`?\w+`?|@\w+)\s*\(", code):
            skip.append((m.end() - 1, matching(code, m.end() - 1)))  # and attributes' arguments
        bound = set()  # names bound by patterns, closures and tuples (scope: the file, roughly)
        for m in re.finditer(r"\b(?:let|var)\s*\(([^)]*)\)", code):
            bound.update(re.findall(r"\w+", m.group(1)))
        for m in re.finditer(r"\{[ \t]*(?:\[[^\]\n]*\][ \t]*)?\(?([\w, \t]{1,80}?)\)?[ \t]+in\b", code):
            bound.update(re.findall(r"\w+", m.group(1)))
        for m in self.IDENTIFIER.finditer(code):
            name, pos = m.group(1), m.start()
            if name in KEYWORDS or name in bound or name in KNOWN_NAMES or any(a < pos < b for a, b in skip):
                continue
            before = code[max(0, pos - 30) : pos]
            after = code[m.end() : m.end() + 3]
            if re.search(r"\b(func|var|let|case|class|struct|enum|protocol|typealias|associatedtype)\s+$", before):
                continue  # a declaration
            if re.match(r"\s*:(?!:)", after) and re.search(r"[(,}]\s*$", before):
                continue  # an argument label (or a trailing closure's)
            if re.match(r"\s*\(", after):
                continue  # a call: checked as one
            if code[pos - 1 : pos] == "@":
                continue  # an attribute
            if re.match(r"\s*\{", code[m.end() :]) and (name in KNOWN_CALLS or any(d.kind == "func" for d in self.index.by_name.get(name, []))):
                continue  # a call with a trailing closure only
            checked += 1
            if any(loc.name == name and (loc.scope is None or loc.scope.start <= pos <= loc.scope.end) for loc in f.locals):
                continue
            here = f.type_at(pos)
            found = self.index.members({here}, name) if here else []
            found += [d for d in self.index.by_name.get(name, []) if d.owner is None]
            if not found:
                findings.append(Finding(f.line(pos), f"{name} is neither a local, nor a member of {here or 'a type'}, nor declared by the bindings or the layer, nor known (KNOWN_NAMES)"))
            self.mark_used(found)
        return checked

    def mark_used(self, decls: list[Decl]) -> None:
        for d in decls:
            if d.file in self.generated:
                self.used.add(id(d))

    def candidates(self, f: SwiftFile, name: str, dotted: bool, chain: str | None, pos: int):
        """(candidates, whether the receiver's type was known, those types)."""
        known = [labels for labels in KNOWN_CALLS.get(name, [])]
        if dotted and chain is not None:
            types = self.chain_types(f, chain, pos)
            if types:
                if name == "init":
                    return [d for d in self.index.by_name.get("init", []) if d.owner in types], True, types
                found = self.index.members(types, name)
                nested = {d.name for d in found if d.kind == "type"}  # `Outer.Inner(...)`: its initializers
                inits = [d for d in self.index.by_name.get("init", []) if d.owner in nested]
                return [d for d in found if d.kind != "type"] + inits, True, types
            return self.index.by_name.get(name, []) + known, False, set()
        if dotted:  # an implicit member: `.text(value: ...)`
            return self.index.by_name.get(name, []) + known, False, set()
        here = f.type_at(pos)
        own = self.index.members({here}, name) if here else []
        free = [d for d in self.index.by_name.get(name, []) if d.owner is None and d.kind != "type"]
        inits = [d for d in self.index.by_name.get("init", []) if d.owner == name] if name in self.index.types else []
        return own + free + inits + known, False, set()


def load(generated_path: pathlib.Path, generated_text: str | None = None) -> tuple[SwiftFile, list[SwiftFile], SwiftFile | None]:
    generated = SwiftFile(generated_path, generated_text)
    layer = [SwiftFile(p) for p in sorted((HERE / "Sources" / "Pgmq").glob("*.swift"))]
    tests = SwiftFile(HERE / "main.swift") if (HERE / "main.swift").exists() else None
    return generated, layer, tests


def check_layer(generated: SwiftFile, layer: list[SwiftFile]) -> tuple[Checker, dict[str, tuple[int, list[Finding]]]]:
    index = Index([generated] + layer)
    checker = Checker(index, {generated.rel()})
    results = {f.rel(): checker.check(f, strict=True) for f in layer}
    return checker, results


def overlaps(generated: SwiftFile, layer: list[SwiftFile]) -> list[tuple[str, Finding]]:
    """Layer declarations that redeclare a generated one, or that a call could not tell apart from one."""
    out = []
    gen: dict[tuple[str | None, str], list[Decl]] = {}
    for d in generated.decls:
        gen.setdefault((d.owner, d.name), []).append(d)
    for f in layer:
        for d in f.decls:
            if d.owner is None or d.kind == "type":
                continue
            for g in gen.get((d.owner, d.name), []):
                if d.params is None or g.params is None:
                    if d.params is None and g.params is None:
                        out.append((f.rel(), Finding(d.line, f"{d.signature()} redeclares the generated {g.signature()}")))
                    continue
                if d.labels() == g.labels():
                    out.append((f.rel(), Finding(d.line, f"{d.signature()} redeclares the generated {g.signature()}")))
                    continue
                mine = tuple(p.label for p in d.params if not p.has_default)
                theirs = tuple(p.label for p in g.params if not p.has_default)
                if accepts(g, mine, False) and accepts(d, theirs, False):
                    shown = f"{d.name}(" + "".join(f"{x}:" for x in mine) + ")"
                    out.append((f.rel(), Finding(d.line, f"{d.signature()} and the generated {g.signature()} both accept {shown}: such a call would be ambiguous")))
    return out


def check_package(generated_modulemap: pathlib.Path) -> list[str]:
    problems = []
    manifest = HERE / "Package.swift"
    if not manifest.exists():
        return ["Package.swift is missing"]
    text = manifest.read_text(encoding="utf-8")
    if not text.startswith("// swift-tools-version:5.9"):
        problems.append("Package.swift does not start with `// swift-tools-version:5.9`")
    for want in (r"\.macOS\(\.v13\)", r"\.iOS\(\.v16\)", r'\.library\(name: "Pgmq", targets: \["Pgmq"\]\)',
                 r'\.systemLibrary\(name: "PgmqFFI", path: "Sources/PgmqFFI"\)',
                 r'\.target\(name: "Pgmq", dependencies: \["PgmqFFI"\], path: "Sources/Pgmq"\)'):
        if not re.search(want, text):
            problems.append(f"Package.swift lacks {want.replace(chr(92), '')}")
    modulemap = HERE / "Sources" / "PgmqFFI" / "module.modulemap"
    if not modulemap.exists():
        return problems + ["Sources/PgmqFFI/module.modulemap is missing"]
    mine = modulemap.read_text(encoding="utf-8")
    decl = lambda t: [l.strip().rstrip("{").strip() for l in t.splitlines() if re.match(r"\s*(module|header)\b", l)]
    if generated_modulemap.exists() and decl(mine) != decl(generated_modulemap.read_text(encoding="utf-8")):
        problems.append(f"module.modulemap declares {decl(mine)}, the generated PgmqFFI.modulemap {decl(generated_modulemap.read_text(encoding='utf-8'))}")
    cargo = (ROOT / "bindings-uniffi" / "Cargo.toml").read_text(encoding="utf-8")
    lib = re.search(r'\[lib\][^\[]*?name\s*=\s*"(\w+)"', cargo, re.S)
    if not lib or f'link "{lib.group(1)}"' not in mine:
        problems.append(f"module.modulemap does not link the library of bindings-uniffi/Cargo.toml ({lib.group(1) if lib else '?'})")
    if re.search(r'^\s*use\s+"', mine, re.M):
        problems.append("module.modulemap has `use` lines (Apple-only modules: uniffi-rs#2917)")
    return problems


def mutation_test(generated: SwiftFile, layer: list[SwiftFile], used: list[Decl], used_labels: dict[int, list[str]]) -> tuple[int, list[str]]:
    """For each generated declaration the layer uses (a method together with its twin in the class's
    protocol, `Receiver.next()` and `ReceiverProtocol.next()`, as uniffi renames both): the layer check
    must fail without it, and with the first label the layer passes it renamed. Returns the number of
    mutations and what went unnoticed."""
    family = lambda d: (d.owner[: -len("Protocol")] if d.owner and d.owner.endswith("Protocol") else d.owner, d.kind, d.name, d.labels())
    groups: dict[tuple, list[Decl]] = {}
    passed: dict[tuple, list[str]] = {}
    for d in used:
        if d.kind != "type":
            groups.setdefault(family(d), [])
            passed.setdefault(family(d), []).extend(used_labels.get(id(d), []))
    for d in generated.decls:
        if family(d) in groups:
            groups[family(d)].append(d)
    saved, mutations, unnoticed = list(generated.decls), 0, []
    for key, twins in groups.items():
        shown = twins[-1].signature()
        generated.decls = [x for x in saved if not any(x is y for y in twins)]
        _, results = check_layer(generated, layer)
        mutations += 1
        if not any(findings for _, findings in results.values()):
            unnoticed.append(f"removing {shown}")
        if passed.get(key):
            label = passed[key][0]
            relabel = lambda d: dataclasses.replace(d, params=[dataclasses.replace(p, label=p.label + "Renamed") if p.label == label else p for p in d.params])
            generated.decls = [relabel(x) if any(x is y for y in twins) else x for x in saved]
            _, results = check_layer(generated, layer)
            mutations += 1
            if not any(findings for _, findings in results.values()):
                unnoticed.append(f"renaming the label {label}: of {shown}")
    generated.decls = saved
    return mutations, unnoticed


def main(argv: list[str]) -> int:
    generated_path = pathlib.Path(argv[1]) if len(argv) > 1 else ROOT / "target/uniffi/swift/Pgmq.swift"
    modulemap_path = pathlib.Path(argv[2]) if len(argv) > 2 else generated_path.with_name("PgmqFFI.modulemap")
    if not generated_path.exists():
        print(f"FAIL  {generated_path} is missing (make swift)")
        print("swift-layer: 0 passed, 1 failed")
        return 1
    generated, layer, tests = load(generated_path)
    passed = failed = 0

    def report(ok: bool, what: str, details: list[str]) -> None:
        nonlocal passed, failed
        print(("ok    " if ok else "FAIL  ") + what)
        for d in details:
            print("      " + d)
        passed, failed = passed + ok, failed + (not ok)

    if not layer:
        report(False, "no hand-written Swift in bindings-uniffi/swift/Sources/Pgmq", [])
    checker, results = check_layer(generated, layer)
    clashes = overlaps(generated, layer)
    for f in layer:
        checked, findings = results[f.rel()]
        findings = findings + [c for path, c in clashes if path == f.rel()]
        report(not findings, f"{f.rel()}: {checked} calls and member reads checked against {generated.rel()}",
               [f"{f.rel()}:{x.line}: {x.text}" for x in findings])
    if tests is not None:
        index = Index([generated] + layer + [tests])
        checked, findings = Checker(index, {generated.rel()}).check(tests, strict=False)
        report(not findings, f"{tests.rel()}: {checked} calls and member reads of the bindings and the layer checked",
               [f"{tests.rel()}:{x.line}: {x.text}" for x in findings])
    problems = check_package(modulemap_path)
    report(not problems, "the package: Package.swift's targets and platforms, Sources/PgmqFFI/module.modulemap", problems)
    used = [d for d in generated.decls if id(d) in checker.used]
    mutations, unnoticed = mutation_test(generated, layer, used, checker.used_labels)
    report(bool(used) and not unnoticed,
           f"the check catches each of {mutations} changes of the generated declarations the layer uses "
           "(each removed, each label the layer passes renamed)",
           unnoticed)
    print(f"swift-layer: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
