"""E-mail domain rules for school addresses.

A school address is accepted when its domain equals one of the school's domains
or is a sub-domain of one, compared case-insensitively after IDNA (UTS #46)
normalisation, so `Étudiant@ÉCOLE.fr` and `etudiant@xn--cole-9oa.fr` compare
equal while look-alikes do not. Sources: RFC 5890–5891 (IDNA2008), Unicode
UTS #46.
"""

from __future__ import annotations

import idna

from marketplace.errors import ValidationFailed


def normalize_domain(domain: str) -> str:
    """The lower-case ASCII (A-label) form of `domain`.

    Raises ValidationFailed for an empty domain, a trailing dot, whitespace or a
    label IDNA refuses.
    """
    if not domain or domain != domain.strip() or any(ch.isspace() for ch in domain):
        raise ValidationFailed("The domain is empty or holds spaces.", field="school_email")
    if domain.endswith(".") or domain.startswith(".") or ".." in domain:
        raise ValidationFailed("The domain is malformed.", field="school_email")
    try:
        return idna.encode(domain, uts46=True).decode("ascii").lower()
    except idna.IDNAError as exc:
        raise ValidationFailed(
            "The domain is not a valid host name.", field="school_email"
        ) from exc


def email_domain(email: str) -> str:
    """The normalised domain of an e-mail address; exactly one `@` and a non-empty local part."""
    if email.count("@") != 1:
        raise ValidationFailed("An e-mail address has exactly one @.", field="school_email")
    local, domain = email.split("@")
    if not local or any(ch.isspace() for ch in local):
        raise ValidationFailed("The part before @ is empty or holds spaces.", field="school_email")
    return normalize_domain(domain)


def domain_matches(domain: str, school_domain: str) -> bool:
    """True when `domain` is `school_domain` or one of its sub-domains (both normalised)."""
    return domain == school_domain or domain.endswith("." + school_domain)
