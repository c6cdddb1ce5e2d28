"""Small wording helpers shared by the library's messages and the renderers."""

from __future__ import annotations


def plural(n: int, one: str, many: str | None = None) -> str:
    """``"1 request"``, ``"2,000 requests"``; ``many`` for irregular plurals."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def agree(n: int, one: str, many: str) -> str:
    """The word that agrees with a count of ``n``: ``one`` when it is 1, else ``many``.

    For the verb or pronoun after a count: ``f"{plural(n, 'request')} {agree(n, 'thinks', 'think')}"``
    reads "1 request thinks", "2 requests think".
    """
    return one if n == 1 else many


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_name_char(ch: str) -> str:
    """One character of a file name that is not printable, as an escape: ``\\n``, ``\\x1b``, ``\\u202e``, ``\\U0001f600``.

    A lone surrogate from U+DC80 to U+DCFF is how Python decodes a byte of a file name that is not
    UTF-8 (``os.fsdecode``): it is shown as that byte, ``\\xe9``, as ``ls -b`` does.
    """
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:
        code -= 0xDC00
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def one_line(name: str) -> str:
    """A file name (or any text) as a message line shows it: unchanged when every character prints.

    Otherwise line breaks, terminal escapes, other control characters, bidi overrides and the bytes
    of a name that is not UTF-8 are written as escapes (as ``ls -b`` does), and a backslash is
    doubled so that an escape cannot be faked: a name holding a newline or ``ESC [`` can neither
    split a problem over two lines nor restyle the terminal.
    """
    if name.isprintable():
        return name
    return "".join("\\\\" if ch == "\\" else ch if ch.isprintable() else _escape_name_char(ch) for ch in name)


def shell_word(arg: str) -> str:
    """``arg`` quoted for a command line a user may paste into a POSIX shell (bash, zsh).

    ``shlex.quote`` when every character prints; otherwise an ANSI-C ``$'...'`` word, which keeps the
    suggestion on one line and still names the file exactly (bash and zsh read ``\\n`` and ``\\xe9`` back).
    """
    import shlex

    if arg.isprintable():
        return shlex.quote(arg)
    out = []
    for ch in arg:
        if ch in "\\'":
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        elif 0x80 <= ord(ch) <= 0xFF:
            out.append(f"\\u{ord(ch):04x}")  # the character, not the byte: $'\\x85' would be the byte 0x85
        else:
            out.append(_escape_name_char(ch))
    return "$'" + "".join(out) + "'"
