# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Translate the PCRE that nginx location regexes use into Python ``re`` (bytes patterns).

nginx compiles location regexes with PCRE in non-UTF mode (``~*`` adds caseless) and matches
them against the decoded URI's bytes. Python's bytes patterns have the same ASCII-only ``\\w``,
``\\d``, ``\\s`` and case folding, so the translation only has to fix syntax.

Supported subset: literals; ``.``, ``^``, ``$``; classes ``[...]`` with ranges, negation and
POSIX names (``[[:alpha:]]`` ...); ``\\d \\D \\w \\W \\s \\S \\b \\B \\A \\z \\Z \\h \\H``; escapes
``\\n \\t \\r \\f \\e \\a \\xhh \\x{hh} \\0oo`` and escaped punctuation; ``\\Q...\\E``; groups
``(...)``, ``(?:...)``, ``(?<name>...)``, ``(?'name'...)``, ``(?P<name>...)``, lookarounds,
atomic ``(?>...)``, comments ``(?#...)``; inline flags ``i m s`` (``(?i)`` anywhere, scoped
``(?i:...)``); quantifiers ``* + ? {n} {n,} {n,m}`` with lazy ``?`` and possessive ``+``;
back references ``\\1``-``\\9``. Anything else (``\\p``, ``\\K``, ``\\G``, recursion, conditionals,
branch reset, callouts, verbs, ``(?x)``, ``(?U)``, ...) raises ConfigError rather than guess.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError

_POSIX = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": " \\t\\n\\r\\f\\v",
    "blank": " \\t",
    "xdigit": "0-9A-Fa-f",
    "punct": "!-/:-@\\[-`{-~",
    "word": "\\w",
    "cntrl": "\\x00-\\x1f\\x7f",
    "print": " -~",
    "graph": "!-~",
    "ascii": "\\x00-\\x7f",
}

_SIMPLE_ESCAPES = {
    "d": "\\d",
    "D": "\\D",
    "w": "\\w",
    "W": "\\W",
    "s": "\\s",
    "S": "\\S",
    "n": "\\n",
    "t": "\\t",
    "r": "\\r",
    "f": "\\f",
    "e": "\\x1b",
    "a": "\\x07",
}
_CLASS_ONLY_ESCAPES = {"b": "\\x08"}
_ANCHOR_ESCAPES = {"b": "\\b", "B": "\\B", "A": "\\A", "z": "\\Z", "Z": "(?=\\n?\\Z)"}
_HSPACE = " \\t\\xa0"


class _Translator:
    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0
        self.out: list[str] = []
        # For each open group, the mid-group flag settings like (?i) seen so far in it: each became
        # a scoped "(?i:" that must be closed with the group (and reopened after each '|').
        self.pending: list[list[str]] = [[]]

    def fail(self, what: str) -> ConfigError:
        return ConfigError(f"regex {self.p!r}: {what} at position {self.i} is not supported by location_match")

    def peek(self, offset: int = 0) -> str:
        j = self.i + offset
        return self.p[j] if j < len(self.p) else ""

    def translate(self) -> str:
        while self.i < len(self.p):
            self.atom()
        if len(self.pending) != 1:
            raise self.fail("an unclosed group")
        self.out.append(")" * len(self.pending[0]))
        return "".join(self.out)

    def hex_escape(self) -> str:
        # at 'x' after the backslash
        self.i += 1
        if self.peek() == "{":
            end = self.p.find("}", self.i)
            digits = self.p[self.i + 1 : end] if end > 0 else ""
            if not re.fullmatch(r"[0-9A-Fa-f]{1,2}", digits.lstrip("0") or "0"):
                raise self.fail("a \\x{...} escape above \\xff")
            self.i = end + 1
            return f"\\x{int(digits, 16):02x}"
        match = re.match(r"[0-9A-Fa-f]{0,2}", self.p[self.i :])
        digits = match.group(0) if match else ""
        self.i += len(digits)
        return f"\\x{int(digits or '0', 16):02x}"

    def escape(self, in_class: bool) -> str:
        self.i += 1  # the backslash
        c = self.peek()
        if not c:
            raise self.fail("a trailing backslash")
        if c == "x":
            return self.hex_escape()
        if c == "h" or c == "H":
            self.i += 1
            if in_class:
                if c == "H":
                    raise self.fail("\\H inside a class")
                return _HSPACE
            return f"[{'^' if c == 'H' else ''}{_HSPACE}]"
        if c == "0":
            match = re.match(r"0[0-7]{0,2}", self.p[self.i :])
            if match is None:  # self.p[self.i] is "0", so the pattern always matches
                raise RuntimeError(f"regex {self.p!r}: internal error, no octal escape at position {self.i}")
            self.i += len(match.group(0))
            return f"\\x{int(match.group(0), 8):02x}"
        if c.isdigit():
            if in_class:
                raise self.fail("an octal or back reference escape inside a class")
            self.i += 1
            if self.peek().isdigit():
                raise self.fail("a multi-digit back reference or octal escape")
            return f"(?:\\{c})"
        if c in _SIMPLE_ESCAPES:
            self.i += 1
            return _SIMPLE_ESCAPES[c]
        if in_class and c in _CLASS_ONLY_ESCAPES:
            self.i += 1
            return _CLASS_ONLY_ESCAPES[c]
        if not in_class and c in _ANCHOR_ESCAPES:
            self.i += 1
            return _ANCHOR_ESCAPES[c]
        if c == "Q":
            end = self.p.find("\\E", self.i + 1)
            literal = self.p[self.i + 1 :] if end < 0 else self.p[self.i + 1 : end]
            self.i = len(self.p) if end < 0 else end + 2
            if in_class:
                return "".join("\\" + ch if not ch.isalnum() else ch for ch in literal)
            return re.escape(literal)
        if c == "E":  # a stray \E is ignored by PCRE
            self.i += 1
            return ""
        if c.isalnum() or c == "_" or not c.isascii():
            raise self.fail(f"the escape \\{c}")
        self.i += 1
        return "\\" + c

    def char_class(self) -> str:
        start = self.i
        self.i += 1  # '['
        parts = ["["]
        if self.peek() == "^":
            parts.append("^")
            self.i += 1
        first = True
        while True:
            c = self.peek()
            if not c:
                self.i = start
                raise self.fail("an unterminated character class")
            if c == "]" and not first:
                self.i += 1
                parts.append("]")
                return "".join(parts)
            first = False
            if c == "[" and self.peek(1) == ":":
                end = self.p.find(":]", self.i + 2)
                posix = self.p[self.i + 2 : end] if end > 0 else ""
                if posix not in _POSIX:
                    raise self.fail(f"the POSIX class {self.p[self.i : end + 2]!r}")
                parts.append(_POSIX[posix])
                self.i = end + 2
            elif c == "\\":
                parts.append(self.escape(in_class=True))
            elif c in "[]&~|":
                parts.append("\\" + c)
                self.i += 1
            else:
                parts.append(c)
                self.i += 1

    def quantifier_tail(self) -> None:
        if self.peek() in ("?", "+"):
            self.out.append(self.peek())
            self.i += 1

    def group(self) -> None:
        rest = self.p[self.i :]
        if rest.startswith("(?#"):
            end = self.p.find(")", self.i)
            if end < 0:
                raise self.fail("an unterminated comment")
            self.i = end + 1
            return
        for opener in ("(?:", "(?=", "(?!", "(?<=", "(?<!", "(?>"):
            if rest.startswith(opener):
                self.out.append(opener)
                self.i += len(opener)
                self.pending.append([])
                return
        match = re.match(r"\(\?(?:P?<([A-Za-z_][A-Za-z0-9_]*)>|'([A-Za-z_][A-Za-z0-9_]*)')", rest)
        if match:
            self.out.append(f"(?P<{match.group(1) or match.group(2)}>")
            self.i += match.end()
            self.pending.append([])
            return
        match = re.match(r"\(\?P=([A-Za-z_][A-Za-z0-9_]*)\)", rest)
        if match:
            self.out.append(match.group(0))
            self.i += match.end()
            return
        match = re.match(r"\(\?([ims]*)(?:-([ims]*))?([:)])", rest)
        if match and (match.group(1) or match.group(2)):
            on, off, end = match.group(1), match.group(2) or "", match.group(3)
            flags = on + (f"-{off}" if off else "")
            self.i += match.end()
            if end == ":":
                self.out.append(f"(?{flags}:")
                self.pending.append([])
            else:
                # PCRE applies (?i) to the rest of the enclosing group; Python only allows global
                # flags at the very start, so open a scoped group closed with the enclosing one.
                self.out.append(f"(?{flags}:")
                self.pending[-1].append(flags)
            return
        if rest.startswith("(?") or rest.startswith("(*"):
            raise self.fail(f"the group syntax {rest[:4]!r}")
        self.out.append("(")
        self.i += 1
        self.pending.append([])

    def atom(self) -> None:
        c = self.peek()
        if c == "\\":
            self.out.append(self.escape(in_class=False))
        elif c == "[":
            self.out.append(self.char_class())
        elif c == "(":
            self.group()
        elif c == ")":
            if len(self.pending) == 1:
                raise self.fail("an unmatched ')'")
            self.out.append(")" * len(self.pending.pop()) + ")")
            self.i += 1
        elif c == "|":
            # PCRE carries a mid-group (?i) into the following alternatives: close the scoped
            # groups around this alternative and reopen them for the next one.
            flags = self.pending[-1]
            self.out.append(")" * len(flags) + "|" + "".join(f"(?{f}:" for f in flags))
            self.i += 1
        elif c in "*+?":
            self.out.append(c)
            self.i += 1
            self.quantifier_tail()
        elif c == "{":
            match = re.match(r"\{[0-9]+(?:,[0-9]*)?\}", self.p[self.i :])
            if match:
                self.out.append(match.group(0))
                self.i += match.end()
                self.quantifier_tail()
            else:  # PCRE2 10.42 reads any other '{' (including '{,n}') as a literal
                self.out.append("\\{")
                self.i += 1
        elif c in "}]":
            self.out.append("\\" + c)
            self.i += 1
        elif c in ".^$":
            self.out.append(c)
            self.i += 1
        else:
            self.out.append(re.escape(c))
            self.i += 1


def pcre_to_python(pattern: str) -> str:
    """Translate a PCRE pattern to Python ``re`` syntax (see the module docstring for the subset)."""
    return _Translator(pattern).translate()


@lru_cache(maxsize=1024)
def compile_pcre(pattern: str, caseless: bool) -> re.Pattern[bytes]:
    """Compile as nginx does for ``~`` (caseless False) or ``~*`` (caseless True); match bytes."""
    translated = pcre_to_python(pattern)
    flags = re.IGNORECASE if caseless else 0
    try:
        return re.compile(translated.encode("utf-8"), flags)
    except re.error as exc:
        raise ConfigError(f"regex {pattern!r} does not compile: {exc}") from None
