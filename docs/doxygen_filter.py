#!/usr/bin/env python3
"""Doxygen's INPUT_FILTER for fastws's public headers (docs/Doxyfile).

The headers are commented with plain `//`, which Doxygen ignores. This filter shows Doxygen the
comments the way a reader sees them, without changing the headers:
  - the comment block at the top of a file documents the file;
  - a comment block directly above a declaration (no blank line between) documents it, and
    the declarations right under it (overloads, fields of one kind) up to one that has a comment
    of its own: several become a member group, which shares the comment (DISTRIBUTE_GROUP_DOC);
  - a comment after code on the same line (`int x = 0;  // why`) documents that member, and so
    do comment-only lines that continue it, indented past the code;
  - any other comment (section titles, notes followed by a blank line) stays a plain comment.
In doc comments, characters Doxygen would read as commands or HTML (\\ @ < > # outside `code`)
are escaped; in code, digit separators (30'000) go, since Doxygen 1.9 reads them as quotes.
Line numbers are kept, so Doxygen's warnings point at the header's own lines.
Usage (by Doxygen): doxygen_filter.py FILE, writing the filtered file to stdout.
"""
import re
import sys

COMMENT_LINE = re.compile(r"^(\s*)//(?!/)\s?(.*)$")
SPECIAL_MEMBER = re.compile(r"~\w+\(|=\s*(delete|default)\s*;")


def escape(text: str) -> str:
    """Escapes Doxygen commands and HTML outside backtick code spans."""
    parts = text.split("`")
    for i in range(0, len(parts), 2):  # even parts are outside code spans
        part = parts[i].replace("\\", "\\\\").replace("@", "\\@")
        part = part.replace("<", "\\<").replace(">", "\\>").replace("#", "\\#")
        # A brief ends at the first ". ": these abbreviations do not end it.
        parts[i] = re.sub(r"\b(e\.g|i\.e|etc)\. ", r"\1.\\ ", part)
    return "`".join(parts)


def without_digit_separators(code: str) -> str:
    return re.sub(r"(?<=[0-9a-fA-F])'(?=[0-9a-fA-F])", "", code)


def trailing_comment(line: str):
    """(code, comment) when `line` has code then a `//` comment outside string literals."""
    in_string = None
    i = 0
    while i < len(line) - 1:
        c = line[i]
        if in_string:
            if c == "\\":
                i += 2
                continue
            if c == in_string:
                in_string = None
        elif c == '"' or (c == "'" and not (i > 0 and line[i - 1].isalnum())):
            in_string = c  # (a ' after a digit separates digits: 100'000)
        elif line.startswith("//", i):
            code = line[:i]
            # Closing braces ("}  // namespace x") and preprocessor lines document nothing.
            if code.strip() and not re.match(r"^\s*(}|#)", code):
                return code, line[i + 2:].lstrip(" ")
            return None
        i += 1
    return None


def indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def declaration_run(lines, start):
    """The end (exclusive) of the code lines from `start` up to a blank or comment-only line, and
    whether they are several declarations at one level that a member group can hold."""
    end = start
    while end < len(lines) and lines[end].strip() and not COMMENT_LINE.match(lines[end]):
        end += 1
    # Members with comments of their own, and destructors, deleted and defaulted members (the
    # constructor's comment is not theirs), end the group.
    for i in range(start + 1, end):
        if trailing_comment(lines[i]) or SPECIAL_MEMBER.search(lines[i]):
            end = i
            break
    run = lines[start:end]
    level = indent_of(run[0]) if run else 0
    several = sum(1 for line in run if indent_of(line) == level) >= 2
    balanced = "".join(run).count("{") == "".join(run).count("}")
    plain = all(indent_of(line) >= level and not re.match(r"^\s*(public|private|protected):", line)
                and not line.lstrip().startswith("#") for line in run)
    return end, several and balanced and plain


def filter_lines(lines):
    out = []
    n = len(lines)
    i = 0
    # The file's own comment, up to the first line that is not a comment.
    if n and COMMENT_LINE.match(lines[0]):
        while i < n and COMMENT_LINE.match(lines[i]):
            indent, text = COMMENT_LINE.match(lines[i]).groups()
            last = i + 1 == n or not COMMENT_LINE.match(lines[i + 1])
            out.append(f"{indent}/// {escape(text)}" + (" \\file" if last else ""))
            i += 1
    member_column = None  # where the last trailing comment began, for its continuation lines
    groups = []  # (first, last) output lines of the declarations a comment documents together
    while i < n:
        line = lines[i]
        match = COMMENT_LINE.match(line)
        if match:
            indent, text = match.groups()
            if member_column is not None and len(indent) >= member_column:
                out.append(f"{indent}///< {escape(text)}")
                i += 1
                continue
            member_column = None
            # A block: documentation when code follows at once.
            start = i
            while i < n and COMMENT_LINE.match(lines[i]):
                i += 1
            documents = i < n and lines[i].strip() != ""
            for block_line in lines[start:i]:
                indent, text = COMMENT_LINE.match(block_line).groups()
                # //! rather than ///: a /// block right under a member's ///< would join it.
                out.append(f"{indent}//! {escape(text)}" if documents else block_line)
            if documents:
                end, groupable = declaration_run(lines, i)
                if groupable:
                    groups.append((i, end - 1))
            continue
        trailing = trailing_comment(line)
        if trailing:
            code, text = trailing
            member_column = len(code)
            out.append(f"{without_digit_separators(code)}///< {escape(text)}")
        else:
            member_column = None
            out.append(without_digit_separators(line))
        i += 1
    for first, last in groups:
        out[first] = "/**@{*/ " + out[first]
        code, marker, doc = out[last].partition("///<")
        out[last] = f"{code.rstrip()} /**@}}*/" + (f" {marker}{doc}" if marker else "")
    return out


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as source:
        lines = source.read().split("\n")
    sys.stdout.write("\n".join(filter_lines(lines)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
