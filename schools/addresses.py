"""The canonical form of a school e-mail address: one mailbox, one key.

Students may spell one school mailbox many ways (`a@school.edu`,
`A@School.EDU`, `a+1@school.edu`, `"a"@school.edu`, a fullwidth `ａ`…), and
each spelling reaches the same person. Uniqueness of a school address is
checked on `school_email_canonical(address)`, never on the address as typed.
"""

from __future__ import annotations

import string
import unicodedata

from confusable_homoglyphs import categories, confusables
from django.utils.translation import gettext as _
from idna import intranges_contain
from idna.idnadata import codepoint_classes

from marketplace.errors import ValidationFailed
from schools.domains import normalize_domain

# RFC 5322 §3.2.3 `atext`, the ASCII characters of a dot-atom besides the dots.
ATEXT = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~")
SUBADDRESS_SEPARATOR = "+"
MAX_LENGTH = 254  # RFC 5321 §4.5.3.1.3: a 256-octet path less its angle brackets


def _refuse(message: str) -> ValidationFailed:
    return ValidationFailed(message, field="school_email")


def _is_dot_atom(text: str) -> bool:
    """RFC 5322 §3.2.3 dot-atom-text, with RFC 6531 UTF-8 characters allowed as atext."""
    if not text or text.startswith(".") or text.endswith(".") or ".." in text:
        return False
    return all(ch == "." or ch in ATEXT or not ch.isascii() for ch in text)


def _unquote(local: str) -> str:
    """The content of an RFC 5322 quoted local part when it is a plain dot-atom."""
    if local.count('"') == 0:
        return local
    quoted = len(local) >= 2 and local.startswith('"') and local.endswith('"')
    content = local[1:-1] if quoted else ""
    if not quoted or '"' in content or "\\" in content or not _is_dot_atom(content):
        raise _refuse(
            _(
                "A quoted school address is accepted only when the quotes hold "
                "letters, digits and dots; write it without quotes."
            )
        )
    return content


def _check_characters(local: str) -> None:
    """Refuse invisible, mixed-script and look-alike characters in a local part."""
    for ch in local:
        if ch.isascii():
            continue
        # RFC 5892 (IDNA2008) leaves out of PVALID every default-ignorable code
        # point (U+200B, U+00AD, U+FEFF, U+2060, variation selectors…), the
        # joiners (CONTEXTJ), symbols and punctuation.
        if not intranges_contain(ord(ch), codepoint_classes["PVALID"]):
            raise _refuse(
                _("The school address holds an invisible or unusual character (U+%(code)04X).")
                % {"code": ord(ch)}
            )
        found = confusables.is_confusable(ch, greedy=True) or []
        plain = [g["c"] for hit in found for g in hit["homoglyphs"] if g["c"].isascii()]
        if plain:
            raise _refuse(
                _("The school address holds %(char)s, which passes for “%(plain)s”.")
                % {"char": unicodedata.name(ch, f"U+{ord(ch):04X}"), "plain": plain[0]}
            )
    if confusables.is_mixed_script(local):
        raise _refuse(
            _("The part before @ mixes scripts (%(scripts)s).")
            % {"scripts": ", ".join(sorted(categories.unique_aliases(local) - {"COMMON"}))}
        )


def school_email_canonical(email: str) -> str:
    """The canonical form of a school address: `local@domain`, lower-case, ASCII domain.

    Two addresses with one canonical form reach one mailbox at any school, so
    one of them at a time may back a live verification. The steps:

    1. Unicode NFKC on the whole address (UAX #15), so a fullwidth `ａ` or a
       ligature `ﬁ` is the letter it stands for.
    2. One trailing dot of the domain (the DNS root) is dropped, and the domain
       goes through `normalize_domain` (IDNA UTS #46, lower-case A-labels).
    3. The local part is casefolded. RFC 5321 §2.4 lets a server treat local
       parts as case-sensitive, but no school mail system does. The domain is
       not casefolded: that would turn `ß` into `ss`, which IDNA2008 counts as
       another domain.
    4. A quoted local part (RFC 5322 §3.2.4) is replaced by its content when
       that content is a plain dot-atom (`"a"` → `a`); any other quoted string
       (spaces, escapes, `@`) is refused.
    5. A sub-address (RFC 5233, `user+detail`) is cut at the first `+`. Other
       separators (`-` on some Postfix set-ups) are kept: `jean-marc` is a name.
    6. Dots stay: Gmail ignores them in its own addresses, but school mail
       systems (Exchange, Google Workspace for Education included) deliver
       `jean.dupont` and `jeandupont` to different people.
    7. The local part is refused when it holds a character that is not PVALID
       in IDNA2008 (RFC 5892: invisible ones such as U+200B, U+00AD, U+FEFF;
       refusing is safer than stripping, which would let hidden text pass), a
       character that Unicode's confusables (UTS #39, via the
       `confusable_homoglyphs` package) list as a look-alike of ASCII text
       (Cyrillic `а`, Latin `ɑ`, dotless `ı`), or letters of several scripts.
       Accented Latin letters (`étudiant`) are accepted.

    Returns at most 254 characters (RFC 5321 §4.5.3.1.3). Raises
    ValidationFailed(field="school_email") for an address that is not one
    address, or is refused by the steps above.
    """
    address = unicodedata.normalize("NFKC", email.strip())
    if address.count("@") != 1:
        raise _refuse(_("An e-mail address has exactly one @."))
    local, domain = address.split("@")
    if domain.endswith("."):
        domain = domain[:-1]
    domain = normalize_domain(domain)
    # Casefolding may undo NFKC (`ǰ` folds to j + U+030C): normalise again.
    local = _unquote(unicodedata.normalize("NFKC", local.casefold()))
    if not _is_dot_atom(local):
        raise _refuse(_("The part before @ is not a valid address."))
    _check_characters(local)
    user = local.split(SUBADDRESS_SEPARATOR, 1)[0]
    if not user:
        raise _refuse(_("The part before + is empty."))
    canonical = f"{user}@{domain}"
    if len(canonical) > MAX_LENGTH:
        raise _refuse(_("The school address is too long."))
    return canonical
