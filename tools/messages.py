"""Keep mlquiz's gettext catalogue: extract the messages marked in the source, compile the
Chinese translations.

    python tools/messages.py extract    # add new msgids of mlquiz/ to the .po, drop unused ones
    python tools/messages.py compile    # write the .mo that mlquiz reads at run time
    python tools/messages.py check      # exit 1 if a message is untranslated or the .mo is stale

A message is a string constant inside ``_("...")`` or ``ngettext("...", "...", n)``; a
placeholder is written ``{name}`` and filled with ``.format`` after translation.
"""

from __future__ import annotations

import ast
import gettext
import io
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "mlquiz"
PO = PACKAGE / "locale" / "zh" / "LC_MESSAGES" / "mlquiz.po"
MO = PO.with_suffix(".mo")
HEADER = ("Content-Type: text/plain; charset=UTF-8\n"
          "Language: zh\n"
          "Plural-Forms: nplurals=1; plural=0;\n")


class CatalogueError(Exception):
    pass


def extract(package: Path = PACKAGE) -> dict:
    """Every marked message: ``{msgid: (plural or None, [files])}``, in source order."""
    found: dict = {}
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("_", "ngettext")):
                continue
            count = 1 if node.func.id == "_" else 2
            args = node.args[:count]
            if len(args) < count or not all(isinstance(a, ast.Constant) and isinstance(a.value, str)
                                            for a in args):
                raise CatalogueError(f"{path.relative_to(package.parent)}:{node.lineno}: "
                                     f"{node.func.id}() needs string constants (use .format)")
            msgid = args[0].value
            plural = args[1].value if count == 2 else None
            entry = found.setdefault(msgid, (plural, []))
            where = str(path.relative_to(package.parent))
            if where not in entry[1]:
                entry[1].append(where)
    return found


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t")
    lines = escaped.split("\n")
    parts = [line + "\\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
    if len(parts) <= 1:
        return f'"{parts[0] if parts else ""}"'
    return '""\n' + "\n".join(f'"{part}"' for part in parts)


def parse_po(text: str) -> dict:
    """``{msgid: (plural or None, [translations])}`` of a .po file (the header under "")."""
    entries: dict = {}
    current: dict = {}
    key = None

    def flush():
        if "msgid" in current:
            forms = [current[k] for k in sorted(current) if k.startswith("msgstr")]
            entries[current["msgid"]] = (current.get("msgid_plural"), forms)
        current.clear()

    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith('"'):
            if key is None:
                raise CatalogueError(f"line {number}: a string outside an entry")
            current[key] += ast.literal_eval(line)
            continue
        word, _, rest = line.partition(" ")
        if word == "msgid":
            flush()
        if word not in ("msgid", "msgid_plural") and not word.startswith("msgstr"):
            raise CatalogueError(f"line {number}: unknown keyword {word!r}")
        key = word
        current[key] = ast.literal_eval(rest)
    flush()
    return entries


def write_po(messages: dict, translations: dict) -> str:
    out = ["# Chinese messages of mlquiz (python tools/messages.py extract; then compile).",
           'msgid ""', "msgstr " + _quote(HEADER), ""]
    for msgid, (plural, files) in messages.items():
        old = translations.get(msgid, (None, []))[1]
        out.append(f"#: {' '.join(files)}")
        out.append("msgid " + _quote(msgid))
        if plural is None:
            out.append("msgstr " + _quote(old[0] if old else ""))
        else:
            out.append("msgid_plural " + _quote(plural))
            out.append("msgstr[0] " + _quote(old[0] if old else ""))
        out.append("")
    return "\n".join(out)


def compile_mo(entries: dict) -> bytes:
    """The GNU .mo bytes of parsed .po entries (untranslated ones left out)."""
    pairs = {}
    for msgid, (plural, forms) in entries.items():
        if not forms or not all(forms) and msgid:
            continue
        key = msgid if plural is None else f"{msgid}\0{plural}"
        pairs[key.encode()] = "\0".join(forms).encode()
    keys = sorted(pairs)
    ids = b"".join(k + b"\0" for k in keys)
    strs = b"".join(pairs[k] + b"\0" for k in keys)
    start = 7 * 4 + 16 * len(keys)
    id_table, str_table = [], []
    offset = 0
    for k in keys:
        id_table += [len(k), start + offset]
        offset += len(k) + 1
    offset = 0
    for k in keys:
        str_table += [len(pairs[k]), start + len(ids) + offset]
        offset += len(pairs[k]) + 1
    header = struct.pack("Iiiiiii", 0x950412DE, 0, len(keys), 7 * 4, 7 * 4 + 8 * len(keys), 0, 0)
    return (header + struct.pack(f"{len(id_table)}i", *id_table)
            + struct.pack(f"{len(str_table)}i", *str_table) + ids + strs)


def problems(package: Path = PACKAGE, po: Path = PO, mo: Path = MO) -> list[str]:
    """What is wrong with the catalogue: untranslated or unknown messages, a stale .mo."""
    messages = extract(package)
    entries = parse_po(po.read_text(encoding="utf-8")) if po.exists() else {}
    found = [f"untranslated: {m!r}" for m in messages
             if not any(entries.get(m, (None, []))[1])]
    found += [f"in the .po but not in the source: {m!r}" for m in entries if m and m not in messages]
    if not mo.exists() or mo.read_bytes() != compile_mo(entries):
        found.append(f"{mo.name} is stale: run python tools/messages.py compile")
    else:
        catalogue = gettext.GNUTranslations(io.BytesIO(mo.read_bytes()))
        for msgid, (plural, forms) in entries.items():
            if msgid and forms and all(forms):
                got = catalogue.gettext(msgid) if plural is None else catalogue.ngettext(msgid, plural, 1)
                if got != forms[0]:
                    found.append(f".mo disagrees with the .po on {msgid!r}")
    return found


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "extract":
        old = parse_po(PO.read_text(encoding="utf-8")) if PO.exists() else {}
        PO.parent.mkdir(parents=True, exist_ok=True)
        PO.write_text(write_po(extract(), old), encoding="utf-8")
        return 0
    if command == "compile":
        MO.write_bytes(compile_mo(parse_po(PO.read_text(encoding="utf-8"))))
        return 0
    if command == "check":
        found = problems()
        print("\n".join(found) or "the catalogue is complete")
        return 1 if found else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
