#!/usr/bin/env python3
"""Turns swift-argument-parser `--help` output into a man page (roff).

    help2roff.py --name pxed --section 8 --version 0.1.0 --date 2026-11-25 \
        [--extra FILE.roff] -- HELPFILE [SUBCOMMAND=HELPFILE ...]

The first help file is the command itself; each SUBCOMMAND=HELPFILE adds a section for
`NAME SUBCOMMAND`. --extra appends hand-written sections (FILES, SIGNALS, ...) verbatim.
The parser knows the layout argument-parser prints: "OVERVIEW: abstract", free text,
"USAGE: ...", then headed blocks ("OPTIONS:") of entries whose description starts in a
fixed column and wraps with deeper indentation.
"""
import argparse
import re
import sys


def esc(text):
    """Escapes text for roff: backslashes, and a leading dot or quote."""
    text = text.replace("\\", "\\e")
    if text.startswith((".", "'")):
        text = "\\&" + text
    return text


def esc_opt(text):
    """Escapes an option or usage string, where '-' is a real minus sign."""
    return esc(text).replace("-", "\\-")


def parse(help_text):
    """Returns (abstract, discussion paragraphs, usage, [(heading, [(term, desc)])])."""
    lines = help_text.rstrip("\n").split("\n")
    abstract, discussion, usage, blocks = "", [], "", []
    i = 0
    # OVERVIEW: first paragraph is the abstract.
    if lines and lines[0].startswith("OVERVIEW:"):
        para = [lines[0][len("OVERVIEW:"):].strip()]
        i = 1
        while i < len(lines) and lines[i].strip():
            para.append(lines[i].strip())
            i += 1
        abstract = " ".join(para)
    # Free text up to USAGE:, kept as raw paragraphs.
    para = []
    while i < len(lines) and not lines[i].startswith("USAGE:"):
        if lines[i].strip():
            para.append(lines[i])
        elif para:
            discussion.append(para)
            para = []
        i += 1
    if para:
        discussion.append(para)
    # USAGE: may wrap onto indented lines.
    if i < len(lines) and lines[i].startswith("USAGE:"):
        parts = [lines[i][len("USAGE:"):].strip()]
        i += 1
        while i < len(lines) and lines[i].startswith(" ") and lines[i].strip():
            parts.append(lines[i].strip())
            i += 1
        usage = " ".join(parts)
    # Headed blocks of entries. Descriptions start in a fixed column (learned from the
    # wrapped lines); a label that exactly fills its column is followed by one space only.
    rest = lines[i:]
    indents = [len(l) - len(l.lstrip(" ")) for l in rest if l.startswith("   ") and l.strip()]
    col = min(indents) if indents else 26
    heading, entries = None, []
    for line in rest:
        if not line.strip():
            continue
        m = re.match(r"^([A-Z][A-Z ]+):$", line)
        if m:
            if heading:
                blocks.append((heading, entries))
            heading, entries = m.group(1), []
            continue
        if heading is None:
            continue
        m = re.match(r"^  (\S.*?)(?:\s{2,}(\S.*))?$", line)
        indent = len(line) - len(line.lstrip(" "))
        if indent <= 2 and m:
            term, desc = m.group(1).strip(), (m.group(2) or "").strip()
            if not desc and len(line) > col and line[col - 1] == " " and line[col] != " ":
                term, desc = line[:col].strip(), line[col:].strip()
            entries.append([term, desc])
        elif entries:
            entries[-1][1] = (entries[-1][1] + " " + line.strip()).strip()
        else:
            entries.append(["", line.strip()])
    if heading:
        blocks.append((heading, entries))
    return abstract, discussion, usage, blocks


def is_preformatted(para):
    """A paragraph laid out in columns (or a line-per-item list) keeps its lines."""
    return len(para) > 1 and any(re.search(r"\S {2,}\S", l) for l in para) or \
        any(l.startswith(" ") for l in para)


def render_discussion(out, paragraphs):
    for para in paragraphs:
        out.append(".PP")
        if is_preformatted(para):
            out.append(".nf")
            out.extend(esc(l.rstrip()) for l in para)
            out.append(".fi")
        else:
            out.append(esc(" ".join(l.strip() for l in para)))


def render_blocks(out, blocks, level=".SH"):
    for heading, entries in blocks:
        out.append(f'{level} "{heading}"')
        for term, desc in entries:
            if not term:
                out.append(".PP")
                out.append(esc(desc))
                continue
            out.append(".TP")
            out.append("\\fB" + esc_opt(term) + "\\fR")
            # "(default)" markers and See-also hints read fine as plain text.
            out.append(esc(desc) if desc else "\\&")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--section", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--date", required=True)
    ap.add_argument("--extra")
    ap.add_argument("help", nargs="+", help="HELPFILE [SUBCOMMAND=HELPFILE ...]")
    a = ap.parse_args()

    with open(a.help[0], encoding="utf-8") as f:
        abstract, discussion, usage, blocks = parse(f.read())
    out = [
        f'.TH {a.name.upper()} {a.section} "{a.date}" "pxed {a.version}" "pxed manual"',
        ".SH NAME",
        f"{a.name} \\- {esc(abstract.rstrip('.'))}",
        ".SH SYNOPSIS",
        ".nf",
        esc_opt(usage),
        ".fi",
    ]
    if discussion:
        out.append(".SH DESCRIPTION")
        render_discussion(out, discussion)
    render_blocks(out, blocks)

    for spec in a.help[1:]:
        sub, _, path = spec.partition("=")
        with open(path, encoding="utf-8") as f:
            s_abstract, s_discussion, s_usage, s_blocks = parse(f.read())
        out.append(f'.SH "{a.name.upper()} {sub.upper()}"')
        out.append(esc(s_abstract))
        out.append(".PP")
        out.append(".nf")
        out.append(esc_opt(s_usage))
        out.append(".fi")
        render_discussion(out, s_discussion)
        render_blocks(out, s_blocks, level=".SS")

    if a.extra:
        with open(a.extra, encoding="utf-8") as f:
            out.append(f.read().rstrip("\n"))
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
