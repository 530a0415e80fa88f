"""Read a playbook file into plain data plus a side table of source positions.

This is the only module that reads playbooks. It composes the YAML node tree once with
PyYAML's *safe* loader, refusing alias bombs while the tree is being composed (before anything
walks an expanded tree), then builds plain dicts/lists/scalars and a ``{path: SourceLocation}``
table from that same tree. Paths are tuples of mapping keys and list indexes, exactly what
jsonschema reports as ``ValidationError.absolute_path``, so schema errors map to lines directly.

Decisions (see also the README's language reference):
- Mapping keys are always strings: the key's source text. ``1: x`` gives the key ``"1"``, so
  jsonschema and templates never meet int or bool keys.
- Timestamps stay strings (``2018-04-04`` is what an API parameter wants, not a ``date``).
- Merge keys (``<<: *base``) work as in YAML 1.1; keys written explicitly win over merged ones.
- Duplicate keys are reported (PyYAML would silently keep the last) but do not stop loading,
  so they are listed with every other problem; the first occurrence wins in the data.

Length: over 400 lines: the YAML safety bounds (size, depth, alias expansion, numbers) and the
libyaml fast path with its pure-Python fallback must agree line by line, so they stay together.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, cast

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from igflow.errors import Issue, NotRegularFile, PlaybookSyntaxError, SourceLocation, UsageError
from igflow.limits import MAX_PLAYBOOK_BYTES
from igflow.regular_file import open_regular

__all__ = [
    "MAX_ALIAS_NODES",
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_NUMBER_LENGTH",
    "LoadedDocument",
    "Path",
    "load_playbook_file",
    "load_playbook_text",
    "read_bounded",
]

Path = tuple[str | int, ...]

# Nodes written in the file. A real playbook has a few hundred; a generated one of 6,400 steps
# about 110,000, and one filling the 4 MiB a file may have about 400,000. This only stops a
# file packed with tiny nodes ("[1,1,1,...]") from costing gigabytes to compose.
MAX_NODES = 500_000
# Nodes aliases add beyond the written ones: what "billion laughs" documents are made of. An
# alias re-uses its anchor's node, so a few written nodes can expand to billions; this refuses
# them while they are composed, long before anything expands them.
MAX_ALIAS_NODES = 100_000
# Composing, building and schema validation all recurse; a real playbook nests < 10 deep.
MAX_DEPTH = 100

# Numbers are short; Python will not even convert an int of more than 4300 digits to text.
MAX_NUMBER_LENGTH = 1000

_STR_TAG = "tag:yaml.org,2002:str"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_NUMBER_TAGS = frozenset({"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"})
_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass
class LoadedDocument:
    """A parsed playbook: plain data and where each part of it was written.

    Attributes:
        filename: The name used in every location (as the user typed it).
        data: Plain dicts, lists and scalars.
        locations: Path tuple to the position of that node's value.
        key_locations: Path tuple to the position of the mapping key naming it (for
            "unknown key" messages, which should point at the key, not its value).
        block_scalars: Paths of values written as ``|`` / ``>`` block scalars, whose text
            starts on the line after the reported position.
        lines: The source lines, for rendering messages.
        issues: Non-fatal problems found while loading (duplicate keys).
    """

    filename: str
    data: Any
    locations: dict[Path, SourceLocation] = field(default_factory=dict)
    key_locations: dict[Path, SourceLocation] = field(default_factory=dict)
    block_scalars: set[Path] = field(default_factory=set)
    lines: list[str] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    def location(self, path: Path) -> SourceLocation:
        """The position of ``path``, or of its nearest located ancestor."""
        for end in range(len(path), -1, -1):
            found = self.locations.get(path[:end])
            if found is not None:
                return found
        return SourceLocation(self.filename, 1, 1)

    def key_location(self, path: Path) -> SourceLocation:
        """The position of the key naming ``path``, falling back to its value's position."""
        return self.key_locations.get(path) or self.location(path)


def load_playbook_file(path: str) -> LoadedDocument:
    """Read and parse a playbook file.

    Args:
        path: The file to read; it is also the name used in every reported location.

    Returns:
        The loaded document.

    Raises:
        UsageError: The file does not exist, is a directory or cannot be read.
        PlaybookSyntaxError: The file is not UTF-8 text, not valid YAML, unsafe or empty.
    """
    if os.path.isdir(path):
        raise UsageError(f"{path}: is a directory, not a playbook file")
    try:
        raw = read_bounded(path, "a playbook")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such playbook file") from None
    except NotRegularFile as exc:
        raise UsageError(f"{path}: is {exc.kind}, not a playbook file") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the playbook: {exc.strerror or exc}") from None
    return load_playbook_text(_decode(raw, path), path)


def read_bounded(path: str, what: str) -> bytes:
    """The bytes of ``path``, refused by its size before it is read or parsed.

    A 50 MB file would take tens of seconds and most of a gigabyte to compose before the node
    bound refused it. At most MAX_PLAYBOOK_BYTES + 1 bytes are read, so a file that grows
    while it is read is bounded too. Only a regular file is read: a named pipe would block the
    open and a device (/dev/zero, /dev/tty) never end or wait for a person.

    Args:
        path: The file.
        what: What it is, for the message ("a playbook", "a --vars-file").

    Raises:
        UsageError: The file is larger than MAX_PLAYBOOK_BYTES.
        NotRegularFile: It is a directory, a named pipe, a device or a socket.
        OSError: It cannot be read.
    """
    with open_regular(path) as fh:
        size = os.fstat(fh.fileno()).st_size
        raw = b"" if size > MAX_PLAYBOOK_BYTES else fh.read(MAX_PLAYBOOK_BYTES + 1)
    if size > MAX_PLAYBOOK_BYTES or len(raw) > MAX_PLAYBOOK_BYTES:
        shown = f"{size / 1_000_000:,.1f} MB" if size > MAX_PLAYBOOK_BYTES else "larger"
        raise UsageError(
            f"{path}: the file is {shown}, more than the {MAX_PLAYBOOK_BYTES // (1024 * 1024)} MiB "
            f"{what} may have (igflow.limits.MAX_PLAYBOOK_BYTES); split it, or pass large data "
            "through steps instead of the playbook text"
        )
    return raw


def load_playbook_text(text: str, filename: str) -> LoadedDocument:
    """Parse playbook text.

    Args:
        text: The YAML source.
        filename: The name used in reported locations.

    Returns:
        The loaded document.

    Raises:
        PlaybookSyntaxError: Not valid YAML, an unsafe tag, an alias bomb, or empty.
    """
    lines = text.splitlines()
    doc = LoadedDocument(filename=filename, data=None, lines=lines)
    try:
        root = _compose(text, filename)
        if root is None or _is_empty_scalar(root):
            raise PlaybookSyntaxError("playbook is empty", location=SourceLocation(filename, 1, 1))
        doc.data = _Builder(doc).build(root, ())
    except PlaybookSyntaxError as exc:
        exc.lines = lines  # so callers can show the source line
        raise
    # A merged anchor is walked once per merge; report each of its problems once.
    doc.issues = sorted(set(doc.issues), key=lambda i: (i.location.line, i.location.col, i.message))
    return doc


def _is_empty_scalar(node: Node) -> bool:
    # A file holding only "---" or comments and a document marker composes to an empty null.
    return (
        isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null" and node.value == ""
    )


# --- bytes to text -------------------------------------------------------------------------


def _decode(raw: bytes, filename: str) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            pass  # fall through: reported as not UTF-8 below
    if b"\x00" in raw[:8192]:
        raise PlaybookSyntaxError(
            "this is a binary file, not a YAML playbook (it contains NUL bytes)",
            location=SourceLocation(filename, 1, 1),
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        line_start = before.rfind(b"\n") + 1
        # Columns count characters, so decode the valid prefix of the line to measure it.
        col = len(raw[line_start : exc.start].decode("utf-8", errors="replace")) + 1
        raise PlaybookSyntaxError(
            f"the file is not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save it as UTF-8",
            location=SourceLocation(filename, line, col),
        ) from None


# --- composing with a size bound -----------------------------------------------------------


class _BoundedLoader(yaml.SafeLoader):
    """A SafeLoader whose composer counts the nodes written and tracks each node's expanded
    size as it is built.

    Composing is linear in the file size because an alias re-uses the anchored node; the
    expansion happens only when something walks the tree. Summing child sizes (an alias counts
    the whole size of its target, computed once) bounds that walk before it happens. What is
    bounded is what aliases add: a node's expanded size less the nodes written so far (all of
    its own among them) can only grow towards the document's total, so refusing as soon as it
    passes MAX_ALIAS_NODES refuses exactly the documents whose aliases add more than that.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.sizes: dict[int, int] = {}
        self.written = 0
        self.depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        if self.check_event(yaml.AliasEvent):
            # types-PyYAML leaves Parser.peek_event unannotated, so the event is untyped here.
            event = self.peek_event()  # type: ignore[no-untyped-call]
            target = self.anchors.get(event.anchor)
            if target is not None and id(target) not in self.sizes:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"alias *{event.anchor} refers to a node that contains it",
                    event.start_mark,
                )
            return self._compose_node(parent, index)
        # Counted as it starts (document order): the libyaml path reports the same node.
        self.written += 1
        if self.written > MAX_NODES:
            event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped, as below
            raise _TooBig(event.start_mark, by_aliases=False)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped, as above
            raise _TooDeep(event.start_mark)
        node = self._compose_node(parent, index)
        self.depth -= 1
        size = 1
        if isinstance(node, SequenceNode):
            size += sum(self.sizes[id(child)] for child in node.value)
        elif isinstance(node, MappingNode):
            size += sum(self.sizes[id(k)] + self.sizes[id(v)] for k, v in node.value)
        self.sizes[id(node)] = size
        if size - self.written > MAX_ALIAS_NODES:
            raise _TooBig(node.start_mark, by_aliases=True)
        return node

    def _compose_node(self, parent: Node | None, index: Any) -> Node:
        # The stubs say Node | None, but PyYAML's composer always returns a node here.
        return cast(Node, super().compose_node(parent, index))


class _TooBig(Exception):
    def __init__(self, mark: yaml.Mark, *, by_aliases: bool) -> None:
        super().__init__()
        self.mark = mark
        self.by_aliases = by_aliases


class _TooDeep(Exception):
    def __init__(self, mark: yaml.Mark) -> None:
        super().__init__()
        self.mark = mark


# libyaml, when PyYAML was built with it, composes about ten times faster than the pure-Python
# composer (a 400-step playbook: ~250 ms -> ~25 ms). It is the fast path for documents that are
# plainly fine; anything unusual goes through the Python composer, whose checks run while it
# composes and whose messages are the ones users see.
_LIBYAML_LOADER: Any = getattr(yaml, "CSafeLoader", None)
_SLOW: Any = object()


def _compose(text: str, filename: str) -> Node | None:
    if _LIBYAML_LOADER is not None and _shallow(text):
        try:
            node = _compose_with_libyaml(text)
        except _TooBig as exc:
            raise _too_big(exc, filename) from None
        if node is not _SLOW:
            return cast(Node | None, node)
    return _compose_checked(text, filename)


def _shallow(text: str) -> bool:
    """Whether the text cannot nest deeper than MAX_DEPTH (libyaml's composer recurses in C).

    A conservative bound: a line adds at most its indentation plus one level per bracket,
    dash, colon or question mark on it, and no more; so at most its length, and a shorter line
    than MAX_DEPTH needs no counting.
    """
    for line in text.splitlines():
        if len(line) < MAX_DEPTH:
            continue
        stripped = line.lstrip(" ")
        if len(line) - len(stripped) + sum(stripped.count(c) for c in "[{-:?") >= MAX_DEPTH:
            return False
    return True


def _compose_with_libyaml(text: str) -> Node | None | Any:
    """The composed tree, or _SLOW when the Python composer must look (errors, aliases that
    expand too far or refer to themselves, nesting too deep)."""
    try:
        loader = _LIBYAML_LOADER(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except Exception:  # any problem: the Python composer reports it, with its own message
        return _SLOW
    if node is None:
        return None
    # Without an anchor there is no alias, so nothing expands and nothing refers to itself, and
    # _shallow bounded the depth: only the number of nodes is left to check. A node takes about a
    # character at least (an empty one shares its ":" or "-"), so a short text holds few nodes (at
    # most about twice its length); a longer one is counted. Documents with anchors need the walk.
    if "&" not in text:
        if 2 * len(text) > MAX_NODES:
            past = _node_past_limit(node)
            if past is not None:  # refused here: composing it again in Python costs seconds
                raise _TooBig(past.start_mark, by_aliases=False)
        return node
    return node if _within_bounds(node) else _SLOW


def _node_past_limit(root: Node) -> Node | None:
    """In a tree without aliases, the node after the first MAX_NODES in document order (where
    the Python composer stops too), or None when there are no more than that."""
    count = 0
    stack = [root]
    while stack:
        node = stack.pop()
        count += 1
        if count > MAX_NODES:
            return node
        stack.extend(reversed(_children(node)))
    return None


def _within_bounds(root: Node) -> bool:
    """Expanded size and depth within bounds and no cycle, computed without expanding.

    Iterative post-order over distinct nodes (an alias shares its target's node object), so the
    cost is linear in the file, never in the expansion. The bounds are the Python composer's
    (see _BoundedLoader), counted in the same order, so a document past them is refused here
    at the node the Python composer would name (composing a large file again costs seconds).

    Raises:
        _TooBig: Too many nodes written, or aliases adding too many.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    # Each entry: a node, its children, and how many of them are done.
    stack: list[list[Any]] = [[root, _children(root), 0]]
    open_nodes = {id(root)}
    written = 1  # nodes started, in document order (an alias starts none)
    while stack:
        entry = stack[-1]
        node, children, done = entry
        if done < len(children):
            entry[2] += 1
            child = children[done]
            if id(child) in size:
                continue  # an alias of a node already counted
            if id(child) in open_nodes:
                return False  # a node that contains itself
            written += 1
            if written > MAX_NODES:
                raise _TooBig(child.start_mark, by_aliases=False)
            open_nodes.add(id(child))
            stack.append([child, _children(child), 0])
            continue
        stack.pop()
        key = id(node)
        open_nodes.discard(key)
        size[key] = 1 + sum(size[id(c)] for c in children)
        depth[key] = 1 + max((depth[id(c)] for c in children), default=0)
        if size[key] - written > MAX_ALIAS_NODES:
            raise _TooBig(node.start_mark, by_aliases=True)
        if depth[key] > MAX_DEPTH:
            return False
    return True


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _too_big(exc: _TooBig, filename: str) -> PlaybookSyntaxError:
    if exc.by_aliases:
        message = (
            f"YAML aliases expand to more than {MAX_ALIAS_NODES:,} nodes beyond the ones written "
            "(an alias bomb?); the limit is igflow.playbook.loader.MAX_ALIAS_NODES: "
            "write the repeated parts out, or anchor smaller parts"
        )
    else:
        message = (
            f"playbook is too large: more than {MAX_NODES:,} YAML nodes (the limit is "
            "igflow.playbook.loader.MAX_NODES); split it into several playbooks"
        )
    return PlaybookSyntaxError(message, location=_mark_location(filename, exc.mark))


def _compose_checked(text: str, filename: str) -> Node | None:
    loader: _BoundedLoader | None = None
    try:
        # The reader checks for forbidden characters as soon as it is constructed.
        loader = _BoundedLoader(text)
        return loader.get_single_node()
    except _TooBig as exc:
        raise _too_big(exc, filename) from None
    except _TooDeep as exc:
        raise PlaybookSyntaxError(
            f"YAML nesting is deeper than {MAX_DEPTH} levels",
            location=_mark_location(filename, exc.mark),
        ) from None
    except yaml.reader.ReaderError as exc:
        line, col = _offset_to_line_col(text, exc.position)
        char = (
            exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or " ")
        )
        raise PlaybookSyntaxError(
            f"control character #x{char:04x} is not allowed in YAML",
            location=SourceLocation(filename, line, col),
        ) from None
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, filename, text) from None
    finally:
        if loader is not None:
            loader.dispose()


def _syntax_error(exc: yaml.MarkedYAMLError, filename: str, text: str) -> PlaybookSyntaxError:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or "invalid YAML"
    lines = text.splitlines()
    line_text = lines[mark.line] if mark is not None and mark.line < len(lines) else ""
    if "'\\t'" in problem:
        problem = "tab character in indentation; YAML indents with spaces only"
    elif "{{" in line_text and '"{{' not in line_text and "'{{" not in line_text:
        # An unquoted template: YAML reads `{{` as the start of nested flow mappings.
        problem = 'a value starting with "{{" must be quoted, e.g. "{{ media_id }}"'
    elif problem.startswith("expected <block end>"):
        problem = "bad indentation: this line does not line up with the block it belongs to"
    elif problem == "but found another document":
        problem = "a playbook is one YAML document, but a second one starts here ('---')"
    elif exc.context and exc.context_mark is not None and exc.problem_mark is not None:
        # e.g. "while parsing a block mapping (line 3)": the context tells where it started.
        context_line = exc.context_mark.line + 1
        if context_line != exc.problem_mark.line + 1:
            problem = f"{problem} ({exc.context} started at line {context_line})"
    location = (
        _mark_location(filename, mark) if mark is not None else SourceLocation(filename, 1, 1)
    )
    return PlaybookSyntaxError(problem, location=location)


def _mark_location(filename: str, mark: yaml.Mark) -> SourceLocation:
    return SourceLocation(filename, mark.line + 1, mark.column + 1)


def _offset_to_line_col(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


# --- nodes to plain data -------------------------------------------------------------------


class _Builder:
    """Walks the composed tree once, producing plain data and the location tables."""

    def __init__(self, doc: LoadedDocument) -> None:
        self.doc = doc
        self.scalars = yaml.SafeLoader("")  # only its constructors are used, never its stream

    def loc(self, node: Node) -> SourceLocation:
        return _mark_location(self.doc.filename, node.start_mark)

    def build(self, node: Node, path: Path) -> Any:
        self.doc.locations[path] = self.loc(node)
        if isinstance(node, MappingNode):
            return self.mapping(node, path)
        if isinstance(node, SequenceNode):
            self.check_tag(node, "tag:yaml.org,2002:seq")
            return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
        return self.scalar(cast(ScalarNode, node), path)  # the composer makes no other kind

    def scalar(self, node: ScalarNode, path: Path) -> Any:
        if node.style in ("|", ">"):
            self.doc.block_scalars.add(path)
        if node.tag == _STR_TAG:
            return node.value  # what PyYAML's str constructor returns, without its dispatch
        if node.tag == _TIMESTAMP_TAG:
            return node.value
        if node.tag in _NUMBER_TAGS and len(node.value) > MAX_NUMBER_LENGTH:
            # Python refuses to convert an int of more than 4300 digits to or from text.
            raise PlaybookSyntaxError(
                f"this number is {len(node.value)} characters long; "
                f"a number in a playbook has at most {MAX_NUMBER_LENGTH}",
                location=self.loc(node),
            )
        try:
            return self.scalars.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            raise self.unsafe(node, exc) from None
        except (ValueError, KeyError, TypeError, OverflowError):
            # PyYAML's constructors trust the tag: `!!int abc` or `!!bool maybe` fail with a
            # plain Python error instead of a ConstructorError.
            tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
            value = node.value if len(node.value) <= 40 else node.value[:37] + "..."
            raise PlaybookSyntaxError(
                f"{value!r} is not a valid {tag} value", location=self.loc(node)
            ) from None

    def check_tag(self, node: Node, expected: str) -> None:
        if node.tag != expected:
            raise self.unsafe(node, None)

    def unsafe(self, node: Node, exc: yaml.MarkedYAMLError | None) -> PlaybookSyntaxError:
        tag = str(node.tag)
        if tag.startswith("tag:yaml.org,2002:python/"):
            message = (
                f"the tag !!{tag.split(':', 2)[2]} is not allowed: playbooks are data, not code"
            )
        elif exc is not None and getattr(exc, "problem", None) and "constructor" not in str(exc):
            message = str(exc.problem)
        else:
            message = f"unknown YAML tag {tag!r}; playbooks use plain YAML without tags"
        return PlaybookSyntaxError(message, location=self.loc(node))

    def key_text(self, node: Node) -> str:
        if not isinstance(node, ScalarNode):
            line = (
                self.doc.lines[node.start_mark.line]
                if node.start_mark.line < len(self.doc.lines)
                else ""
            )
            message = "a mapping key must be a plain value, not a list or mapping"
            if "{{" in line:
                # The classic: `with: {id: {{ x }}}` reads as nested flow mappings.
                message = 'a value starting with "{{" must be quoted, e.g. "{{ media_id }}"'
            raise PlaybookSyntaxError(message, location=self.loc(node))
        if node.tag.startswith("!") or node.tag.startswith("tag:yaml.org,2002:python/"):
            raise self.unsafe(node, None)
        return str(node.value)

    def mapping(
        self, node: MappingNode, path: Path, skip: frozenset[str] = frozenset()
    ) -> dict[str, Any]:
        self.check_tag(node, "tag:yaml.org,2002:map")
        result: dict[str, Any] = {}
        seen: dict[str, SourceLocation] = {}
        merged: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.append(value_node)
                continue
            key = self.key_text(key_node)
            key_loc = self.loc(key_node)
            if key in seen:
                self.doc.issues.append(
                    Issue(
                        key_loc,
                        f"duplicate key '{key}': it is already set at line {seen[key].line}",
                    )
                )
                continue
            seen[key] = key_loc
            if key in skip:  # already set explicitly by the mapping that merges this one
                continue
            child: Path = (*path, key)
            self.doc.key_locations[child] = key_loc
            result[key] = self.build(value_node, child)
        for source in merged:
            self.merge(result, source, path)
        return result

    def merge(self, result: dict[str, Any], source: Node, path: Path) -> None:
        sources = source.value if isinstance(source, SequenceNode) else [source]
        for mapping in sources:
            if not isinstance(mapping, MappingNode):
                raise PlaybookSyntaxError(
                    "'<<' merges a mapping (or a list of mappings) into this one",
                    location=self.loc(mapping),
                )
            # Keys already present win: explicit ones, then earlier merge sources (YAML 1.1).
            result.update(self.mapping(mapping, path, skip=frozenset(result)))
