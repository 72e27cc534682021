"""Compile the translations, or check that the compiled ones match their sources.

The `.mo` files are kept in the repository so a machine without GNU gettext
serves every language. Babel compiles them here, so msgfmt is not needed:

    .venv/bin/python scripts/translations.py           # write locale/*/LC_MESSAGES/django.mo
    .venv/bin/python scripts/translations.py --check   # exit 1 when a .mo is missing or stale

The check compares messages, not bytes, so a `.mo` from Django's
`compilemessages` (msgfmt) passes too. Fuzzy entries are left out, as msgfmt does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


def _complete(message: Message) -> bool:
    strings = message.string if isinstance(message.string, list | tuple) else (message.string,)
    return all(strings)


def _messages(catalog: Catalog, *, skip_fuzzy: bool) -> dict[object, object]:
    """msgid (and context) → translation, for the messages a .mo carries."""
    out: dict[object, object] = {}
    for message in catalog:
        if not message.id or not message.string or (skip_fuzzy and message.fuzzy):
            continue
        # A plural message has a sequence of ids and of strings (tuples or lists).
        ids = tuple(message.id) if isinstance(message.id, list | tuple) else (message.id,)
        strings = (
            tuple(message.string) if isinstance(message.string, list | tuple) else (message.string,)
        )
        if all(strings):
            out[(message.context, ids)] = strings
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args()
    stale = []
    for po_path in sorted(LOCALE_DIR.glob("*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        with po_path.open("rb") as f:
            catalog = read_po(f)
        if args.check:
            if not mo_path.exists():
                stale.append(mo_path)
                continue
            with mo_path.open("rb") as f:
                compiled = read_mo(f)
            if _messages(catalog, skip_fuzzy=True) != _messages(compiled, skip_fuzzy=False):
                stale.append(mo_path)
        else:
            # Like msgfmt: an entry not (wholly) translated stays out, so English shows.
            for message in [m for m in catalog if m.id and not _complete(m)]:
                catalog.delete(message.id, context=message.context)
            with mo_path.open("wb") as f:
                write_mo(f, catalog)
            print(f"compiled {mo_path.relative_to(LOCALE_DIR.parent)}")
    for path in stale:
        print(
            f"{path.relative_to(LOCALE_DIR.parent)} is out of date with its .po: "
            "run .venv/bin/python scripts/translations.py",
            file=sys.stderr,
        )
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
