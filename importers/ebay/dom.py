"""A tiny DOM for eBay feedback pages: an element tree built with the standard library's
``html.parser``, with the few HTML parsing rules feedback pages need (void elements, implicit
end tags, raw-text elements) and a record of which elements were closed before the text ended."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Iterator

# Elements that never have content or an end tag.
VOID = frozenset({
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr", "keygen",
})
# Raw-text elements whose content is never page text.
SKIP_TEXT = frozenset({"script", "style", "template", "noscript"})
# A start tag of the key implicitly ends an open element of the value set, looking no further
# than the boundary tags (the HTML parsing rules, reduced to what feedback pages use).
IMPLICIT_END = {
    "li": ({"li"}, {"ul", "ol"}),
    "tr": ({"tr", "td", "th"}, {"table", "tbody", "thead", "tfoot"}),
    "td": ({"td", "th"}, {"tr", "table"}),
    "th": ({"td", "th"}, {"tr", "table"}),
    "p": ({"p"}, {"div", "td", "li", "section", "article", "body"}),
    "option": ({"option"}, {"select"}),
}


class Node:
    """An element.  ``closed`` is False for an element the document ended inside (truncation)."""

    __slots__ = ("tag", "attrs", "children", "parent", "closed")

    def __init__(self, tag: str, attrs: dict[str, str], parent: "Node | None") -> None:
        self.tag = tag
        self.attrs = attrs
        self.children: list[Node | str] = []
        self.parent = parent
        self.closed = False

    def __repr__(self) -> str:
        return f"<{self.tag} {self.attrs}>"

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def has_class(self, name: str) -> bool:
        return name in self.classes

    def iter(self) -> Iterator["Node"]:
        """This element and every descendant element, in document order (no recursion)."""
        stack: list[Node] = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(c for c in reversed(node.children) if isinstance(c, Node))

    def find_all(self, tag: str | None = None, cls: str | None = None, attr: str | None = None) -> list["Node"]:
        out = []
        for node in self.iter():
            if tag and node.tag != tag:
                continue
            if cls and not node.has_class(cls):
                continue
            if attr and attr not in node.attrs:
                continue
            out.append(node)
        return out

    def find(self, tag: str | None = None, cls: str | None = None, attr: str | None = None) -> "Node | None":
        for node in self.iter():
            if (not tag or node.tag == tag) and (not cls or node.has_class(cls)) and (not attr or attr in node.attrs):
                return node
        return None

    def text(self) -> str:
        """Text content; ``<br>`` becomes a newline, script/style content is not text."""
        parts: list[str] = []
        stack: list[Node | str] = [self]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                parts.append(item)
            elif item.tag == "br":
                parts.append("\n")
            elif item.tag not in SKIP_TEXT:
                stack.extend(reversed(item.children))
        return "".join(parts)

    def complete(self) -> bool:
        """True when this element and everything in it was closed before the document ended."""
        return all(n.closed for n in self.iter())


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.root.closed = True
        self.stack: list[Node] = [self.root]
        self.comments: list[str] = []
        self.metas: list[dict[str, str]] = []

    def _open(self, tag: str, attrs: list[tuple[str, str | None]], selfclosing: bool) -> None:
        rule = IMPLICIT_END.get(tag)
        if rule:
            ends, boundary = rule
            for i in range(len(self.stack) - 1, 0, -1):
                open_tag = self.stack[i].tag
                if open_tag in boundary:
                    break
                if open_tag in ends:
                    self._pop_to(i)
                    break
        parent = self.stack[-1]
        node = Node(tag, {k: (v if v is not None else "") for k, v in attrs}, parent)
        parent.children.append(node)
        if tag == "meta":
            self.metas.append(node.attrs)
        if tag in VOID or selfclosing:
            node.closed = True
        else:
            self.stack.append(node)

    def _pop_to(self, index: int) -> None:
        while len(self.stack) > index:
            self.stack.pop().closed = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._open(tag, attrs, False)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._open(tag, attrs, True)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                self._pop_to(i)
                return
        # A stray end tag: ignored, as browsers do.

    def handle_data(self, data: str) -> None:
        current = self.stack[-1]
        if current.tag in SKIP_TEXT:
            return
        current.children.append(data)

    def handle_comment(self, data: str) -> None:
        if len(self.comments) < 64:
            self.comments.append(data[:4096])


@dataclass
class Document:
    root: Node
    comments: list[str]
    metas: list[dict[str, str]]
    raw_lower: str


def parse_html(text: str) -> Document:
    builder = _TreeBuilder()
    builder.feed(text)
    # close() would flush an unterminated construct as text; what matters is which elements
    # were closed, and those still open stay marked as not closed.
    builder.close()
    return Document(builder.root, builder.comments, builder.metas, text.lower())
