#!/usr/bin/env python3
"""readme_sync — does README.ru.md still say what README.md says?

The Russian README is a translation, so its prose differs by design; what must
not differ is everything a reader copies or relies on. This checks, and names
exactly where they part (file:line, section, block, table, row):

  - headings: the same outline (#, ##, ### … in order, same levels). Sections
    are paired by what a translation keeps (their code, tables' code and
    inline code), so a section added on one side is named as such and the
    sections after it are still compared with their counterparts;
  - fenced code blocks: byte-identical, in order (comments inside included),
    and as many in each section;
  - tables: the same tables in order, rows × columns (header row included),
    rows paired by their code (a missing row is named by its first cell's
    code), and in every cell the same `code` spans (in order) and figures;
  - each section's prose (outside code blocks and tables): the same `code`
    spans, link targets (#anchors compared by the heading they point at) and
    figures, as multisets, since a translation may reorder a sentence.

Figures are numbers outside code and words ("int8", "p99", "L6" are not
figures); 90,868,376 and 90 868 376 are the same figure (thousands
separators), 0.25 and 0,25 are not: both READMEs write decimals with a point.

    python3 scripts/readme_sync.py [README.md README.ru.md]

Exit status 0 when in step, 1 with the list of differences otherwise.
"""
import difflib
import os
import re
import sys
from collections import Counter
from dataclasses import dataclass, field

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")
LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
# A thousands group: 90,868,376 or 90 868 376 (space, no-break or narrow no-break space).
THOUSANDS = re.compile(r"(?<![\w.,])(\d{1,3})((?:(?:,|[ \u00a0\u202f])\d{3})+)(?![\w.,]?\d)")
FIGURE = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)*(?![\w])")


@dataclass
class Table:
    line: int                     # 1-based line of its first row
    rows: list                    # list of (line, [cell text]) without the --- row


@dataclass
class Section:
    heading: str                  # "## Configuration"; "" for the text before the first heading
    level: int
    line: int
    code_blocks: list = field(default_factory=list)  # (line, text)
    tables: list = field(default_factory=list)
    prose: list = field(default_factory=list)        # (line, text)


@dataclass
class Doc:
    name: str
    sections: list

    def code_blocks(self):
        return [(s, b) for s in self.sections for b in s.code_blocks]

    def tables(self):
        return [(s, t) for s in self.sections for t in s.tables]


def split_cells(row):
    """Cells of a GitHub table row: split on | outside code spans and not escaped."""
    row = row.strip()
    if row.startswith("|"):
        row = row[1:]
    if row.endswith("|") and not row.endswith("\\|"):
        row = row[:-1]
    cells, cur, tick_run, i = [], "", 0, 0
    while i < len(row):
        c = row[i]
        if c == "`":
            j = i
            while j < len(row) and row[j] == "`":
                j += 1
            run = j - i
            tick_run = 0 if tick_run == run else (run if tick_run == 0 else tick_run)
            cur += row[i:j]
            i = j
            continue
        if c == "\\" and i + 1 < len(row):
            cur += row[i:i + 2]
            i += 2
            continue
        if c == "|" and tick_run == 0:
            cells.append(cur.strip())
            cur = ""
        else:
            cur += c
        i += 1
    cells.append(cur.strip())
    return cells


def is_delimiter_row(cells):
    return all(re.fullmatch(r":?-{1,}:?", c) for c in cells)


def parse(name, text):
    sections = [Section("", 0, 1)]
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line, lineno = lines[i], i + 1
        fence = FENCE.match(line)
        if fence:
            marker = fence.group(1)
            j = i + 1
            while j < len(lines) and not lines[j].lstrip(" ").startswith(marker):
                j += 1
            block = "\n".join(lines[i:j + 1])
            sections[-1].code_blocks.append((lineno, block))
            i = j + 1
            continue
        heading = HEADING.match(line)
        if heading:
            sections.append(Section(line.strip(), len(heading.group(1)), lineno))
            sections[-1].prose.append((lineno, heading.group(2)))
            i += 1
            continue
        if line.lstrip().startswith("|"):
            rows = []
            j = i
            while j < len(lines) and lines[j].lstrip().startswith("|"):
                cells = split_cells(lines[j])
                if not is_delimiter_row(cells):
                    rows.append((j + 1, cells))
                j += 1
            sections[-1].tables.append(Table(lineno, rows))
            i = j
            continue
        sections[-1].prose.append((lineno, line))
        i += 1
    return Doc(name, sections)


def code_spans(text):
    return [m.group(2).strip() for m in CODE_SPAN.finditer(text)]


def without_code(text):
    return CODE_SPAN.sub(" ", text)


def link_targets(text):
    return LINK.findall(without_code(text))


def figures(text):
    """The figures of text outside code spans and link targets, thousands separators removed."""
    text = LINK.sub("]", without_code(text))
    text = THOUSANDS.sub(lambda m: m.group(1) + re.sub(r"[, \u00a0\u202f]", "", m.group(2)), text)
    return FIGURE.findall(text)


def slug(heading_text):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to -."""
    text = CODE_SPAN.sub(lambda m: m.group(2), heading_text).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(doc):
    """{slug: index of the heading} with GitHub's -1, -2 … for repeated headings."""
    seen, out = Counter(), {}
    for index, s in enumerate(doc.sections[1:], start=1):
        base = slug(HEADING.match(s.heading).group(2))
        name = base if seen[base] == 0 else f"{base}-{seen[base]}"
        seen[base] += 1
        out[name] = index
    return out


def describe_section(s):
    return s.heading if s.heading else "(before the first heading)"


def fmt(items):
    return ", ".join(f"`{x}`" if not x.isdigit() and not re.fullmatch(r"[\d.,]+", x) else x
                     for x in items) or "(none)"


class Report:
    def __init__(self, en, ru):
        self.en, self.ru, self.problems = en, ru, []

    def add(self, text):
        self.problems.append(text)

    def where(self, en_line, ru_line):
        return f"{self.en.name}:{en_line} / {self.ru.name}:{ru_line}"


def section_key(s):
    """What a translation keeps of a section: its level, code, tables' code and prose code spans."""
    prose = " \n".join(t for _, t in s.prose)
    tables = tuple(tuple(row_key(c) for _, c in t.rows) for t in s.tables)
    return (s.level, tuple(b for _, b in s.code_blocks), tables, tuple(sorted(code_spans(prose))))


def merged(pairs, only_a, only_b):
    """Pairs and unpaired items as one list (i or None, j or None) in document order."""
    rows, pi, ai, bi = [], 0, 0, 0
    pairs, only_a, only_b = sorted(pairs), sorted(only_a), sorted(only_b)
    while pi < len(pairs) or ai < len(only_a) or bi < len(only_b):
        next_i, next_j = pairs[pi] if pi < len(pairs) else (float("inf"), float("inf"))
        if ai < len(only_a) and only_a[ai] < next_i:
            rows.append((only_a[ai], None))
            ai += 1
        elif bi < len(only_b) and only_b[bi] < next_j:
            rows.append((None, only_b[bi]))
            bi += 1
        else:
            rows.append(pairs[pi])
            pi += 1
    return rows


def align_sections(rep):
    """Pair the sections of the two READMEs by what a translation keeps, so an added
    or removed section is named instead of shifting every comparison after it.
    Returns the pairs (i, j) of section indices; reports the unpaired ones."""
    en, ru = rep.en.sections, rep.ru.sections
    pairs, only_en, only_ru = aligned([section_key(s) for s in en], [section_key(s) for s in ru])
    # Sections that changed on one side only still pair up when the outline around them agrees.
    bad_level = [(i, j) for i, j in pairs if en[i].level != ru[j].level]
    if not only_en and not only_ru and not bad_level:
        return pairs
    lines = [f"headings differ: {len(en) - 1} in {rep.en.name}, {len(ru) - 1} in {rep.ru.name} "
             "(the outline must match; mismatches marked >>):"]
    for i, j in merged(pairs, only_en, only_ru):
        if i == 0 or j == 0:  # the text before the first heading
            continue
        a = en[i] if i is not None else None
        b = ru[j] if j is not None else None
        mark = ">>" if a is None or b is None or a.level != b.level else "  "
        left = f"{rep.en.name}:{a.line} {a.heading}" if a else "(missing)"
        right = f"{rep.ru.name}:{b.line} {b.heading}" if b else "(missing)"
        lines.append(f"   {mark} {left:<60} | {right}")
    rep.add("\n".join(lines))
    for i in only_en:
        rep.add(f"section {describe_section(en[i])} ({rep.en.name}:{en[i].line}) has no counterpart in "
                f"{rep.ru.name}: translate it")
    for j in only_ru:
        rep.add(f"section {describe_section(ru[j])} ({rep.ru.name}:{ru[j].line}) has no counterpart in "
                f"{rep.en.name}")
    for i, j in bad_level:
        rep.add(f"{describe_section(en[i])} / {describe_section(ru[j])} ({rep.where(en[i].line, ru[j].line)}): "
                f"heading levels differ")
    return pairs


def aligned(a_keys, b_keys):
    """Pairs (i, j) of matching items, plus the unmatched indices of a and of b."""
    matcher = difflib.SequenceMatcher(a=a_keys, b=b_keys, autojunk=False)
    pairs, only_a, only_b = [], [], []
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            pairs += list(zip(range(a0, a1), range(b0, b1)))
        elif op == "replace" and a1 - a0 == b1 - b0:
            pairs += list(zip(range(a0, a1), range(b0, b1)))
        else:
            only_a += range(a0, a1)
            only_b += range(b0, b1)
    return pairs, only_a, only_b


def compare_code_blocks(rep):
    en, ru = rep.en.code_blocks(), rep.ru.code_blocks()
    pairs, only_en, only_ru = aligned([b[1] for _, b in en], [b[1] for _, b in ru])
    for i in only_en:
        s, (line, text) = en[i]
        rep.add(f"code block {i + 1} of {rep.en.name} (line {line}, in {describe_section(s)}) "
                f"is missing from {rep.ru.name}:\n" + indent(text))
    for j in only_ru:
        s, (line, text) = ru[j]
        rep.add(f"code block {j + 1} of {rep.ru.name} (line {line}, in {describe_section(s)}) "
                f"is not in {rep.en.name}:\n" + indent(text))
    for i, j in pairs:
        (se, (le, te)), (sr, (lr, tr)) = en[i], ru[j]
        if te != tr:
            diff = difflib.unified_diff(te.split("\n"), tr.split("\n"), rep.en.name, rep.ru.name,
                                        lineterm="", n=0)
            rep.add(f"code block {i + 1} ({rep.where(le, lr)}, in {describe_section(se)} / "
                    f"{describe_section(sr)}) differs; "
                    f"it must be byte-identical:\n" + indent("\n".join(list(diff)[2:])))


def indent(text):
    return "\n".join("      " + l for l in text.split("\n"))


def row_key(cells):
    return tuple(tuple(code_spans(c)) for c in cells)


def row_name(cells):
    spans = code_spans(cells[0]) if cells else []
    return f"`{spans[0]}`" if spans else f"\"{cells[0][:40]}\"" if cells else "(empty)"


def compare_tables(rep):
    en, ru = rep.en.tables(), rep.ru.tables()
    # Tables are matched by their code spans, which a translation keeps.
    keys = lambda ts: [tuple(row_key(c) for _, c in t.rows) for _, t in ts]
    pairs, only_en, only_ru = aligned(keys(en), keys(ru))
    for i in only_en:
        s, t = en[i]
        rep.add(f"table {i + 1} of {rep.en.name} (line {t.line}, in {describe_section(s)}, "
                f"{shape(t)}) has no counterpart in {rep.ru.name}")
    for j in only_ru:
        s, t = ru[j]
        rep.add(f"table {j + 1} of {rep.ru.name} (line {t.line}, in {describe_section(s)}, "
                f"{shape(t)}) has no counterpart in {rep.en.name}")
    for i, j in pairs:
        compare_table(rep, i + 1, en[i], ru[j])


def shape(t):
    cols = len(t.rows[0][1]) if t.rows else 0
    return f"{len(t.rows)} rows × {cols} columns"


def compare_table(rep, number, en, ru):
    (se, te), (sr, tr) = en, ru
    head = f"table {number} ({rep.where(te.line, tr.line)}, in {describe_section(se)} / {describe_section(sr)})"
    if shape(te) != shape(tr):
        rep.add(f"{head}: {shape(te)} in {rep.en.name}, {shape(tr)} in {rep.ru.name}")
    pairs, only_en, only_ru = aligned([row_key(c) for _, c in te.rows], [row_key(c) for _, c in tr.rows])
    for i in only_en:
        line, cells = te.rows[i]
        rep.add(f"{head}: row {row_name(cells)} ({rep.en.name}:{line}) is missing from {rep.ru.name}")
    for j in only_ru:
        line, cells = tr.rows[j]
        rep.add(f"{head}: row {row_name(cells)} ({rep.ru.name}:{line}) is not in {rep.en.name}")
    for i, j in pairs:
        (le, ce), (lr, cr) = te.rows[i], tr.rows[j]
        where = f"{head}, row {row_name(ce)} ({rep.where(le, lr)})"
        if len(ce) != len(cr):
            rep.add(f"{where}: {len(ce)} cells in {rep.en.name}, {len(cr)} in {rep.ru.name}")
            continue
        for k, (a, b) in enumerate(zip(ce, cr)):
            if code_spans(a) != code_spans(b):
                rep.add(f"{where}, column {k + 1}: code {fmt(code_spans(a))} in {rep.en.name}, "
                        f"{fmt(code_spans(b))} in {rep.ru.name}")
            if figures(a) != figures(b):
                rep.add(f"{where}, column {k + 1}: figures {fmt(figures(a))} in {rep.en.name}, "
                        f"{fmt(figures(b))} in {rep.ru.name}" + decimal_hint(figures(b)))


def decimal_hint(ru_figures):
    if any(re.fullmatch(r"\d+,\d{1,2}|\d+,\d{4,}", f) for f in ru_figures):
        return " (write decimals with a point, as README.md does)"
    return ""


def multiset_diff(rep, what, section_en, section_ru, a, b, show):
    ca, cb = Counter(a), Counter(b)
    missing, extra = ca - cb, cb - ca
    if not missing and not extra:
        return
    parts = []
    if missing:
        parts.append(f"only in {rep.en.name}: {show(missing)}")
    if extra:
        parts.append(f"only in {rep.ru.name}: {show(extra)}")
    rep.add(f"{what} in {describe_section(section_en)} / {describe_section(section_ru)} "
            f"({rep.where(section_en.line, section_ru.line)}): " + "; ".join(parts))


def compare_sections(rep, pairs):
    en_anchors, ru_anchors = anchors(rep.en), anchors(rep.ru)
    en_of_ru = {j: i for i, j in pairs}

    def targets(doc, section, table, to_en):
        """Link targets of the section's prose and table cells; an #anchor becomes the
        English heading it points at, so the two READMEs' different slugs compare equal."""
        texts = section.prose + [(line, c) for t in section.tables for line, cells in t.rows for c in cells]
        out = []
        for line, text in texts:
            for t in link_targets(text):
                if not t.startswith("#"):
                    out.append(t)
                    continue
                index = table.get(t[1:])
                if index is None:
                    rep.add(f"{doc.name}:{line}: link {t} matches no heading of {doc.name}")
                    out.append(t)
                elif to_en(index) is None:
                    out.append(f"{t} (to {doc.sections[index].heading})")
                else:
                    out.append(f"#… (to {rep.en.sections[to_en(index)].heading})")
        return out

    show_code = lambda c: ", ".join(f"`{x}`" + (f" ×{n}" if n > 1 else "") for x, n in sorted(c.items()))
    show_plain = lambda c: ", ".join(x + (f" ×{n}" if n > 1 else "") for x, n in sorted(c.items()))
    for i, j in pairs:
        se, sr = rep.en.sections[i], rep.ru.sections[j]
        if len(se.code_blocks) != len(sr.code_blocks) or len(se.tables) != len(sr.tables):
            rep.add(f"{describe_section(se)} / {describe_section(sr)} ({rep.where(se.line, sr.line)}): "
                    f"{len(se.code_blocks)} code blocks and {len(se.tables)} tables in {rep.en.name}, "
                    f"{len(sr.code_blocks)} and {len(sr.tables)} in {rep.ru.name}")
        prose_en = " \n".join(t for _, t in se.prose)
        prose_ru = " \n".join(t for _, t in sr.prose)
        multiset_diff(rep, "inline code", se, sr, code_spans(prose_en), code_spans(prose_ru), show_code)
        links_en = targets(rep.en, se, en_anchors, lambda k: k)
        links_ru = targets(rep.ru, sr, ru_anchors, en_of_ru.get)
        multiset_diff(rep, "link targets", se, sr, links_en, links_ru, show_plain)
        fe, fr = figures(prose_en), figures(prose_ru)
        before = len(rep.problems)
        multiset_diff(rep, "figures", se, sr, fe, fr, show_plain)
        if len(rep.problems) > before:
            rep.problems[-1] += decimal_hint(fr)


def compare(en_name, en_text, ru_name, ru_text):
    """The list of differences (strings), empty when the two are in step."""
    rep = Report(parse(en_name, en_text), parse(ru_name, ru_text))
    pairs = align_sections(rep)
    compare_code_blocks(rep)
    compare_tables(rep)
    compare_sections(rep, pairs)
    return rep.problems


def main(argv):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if len(argv) not in (1, 3):
        print(__doc__.strip().split("\n\n")[-2], file=sys.stderr)
        return 2
    en_path, ru_path = (argv[1], argv[2]) if len(argv) == 3 else (
        os.path.join(root, "README.md"), os.path.join(root, "README.ru.md"))
    with open(en_path, encoding="utf-8") as f:
        en_text = f.read()
    with open(ru_path, encoding="utf-8") as f:
        ru_text = f.read()
    problems = compare(os.path.basename(en_path), en_text, os.path.basename(ru_path), ru_text)
    if not problems:
        print(f"{os.path.basename(ru_path)} is in step with {os.path.basename(en_path)}")
        return 0
    print(f"{os.path.basename(ru_path)} is out of step with {os.path.basename(en_path)} "
          f"({len(problems)} differences); bring the translation in step "
          f"(commands, code, table rows and figures stay identical, prose is translated):")
    for p in problems:
        print(" - " + p)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
