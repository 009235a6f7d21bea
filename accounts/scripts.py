"""Which writing systems the domain of an address may mix: Unicode Technical Standard #39's
restriction levels, applied to each label.

An internationalized domain can spell the look-alike of another: ``exаmple.com`` with a
Cyrillic ``а`` is valid IDNA and shows as ``example.com`` wherever the suite shows an address
(its pages, the admin, mail to staff). Browsers show such a domain in punycode; the suite
refuses it where an address is registered. The rule is UTS #39's *Moderately Restrictive*
level (section 5.2), per label, as browsers apply it to domains:

- a label in one script is accepted, whatever the script (``пример``, ``例え``, ``مثال``);
- Latin with Han, Hiragana and Katakana (Japanese), with Han and Bopomofo (Chinese), or with
  Han and Hangul (Korean) is accepted;
- Latin with one other script of UTS #31's Recommended scripts (Table 4) is accepted, except
  Cyrillic and Greek, whose letters pass for Latin ones;
- anything else is refused: Latin with Cyrillic or Greek, two scripts besides Latin, Latin
  with a script not in common modern use (Cherokee's letters pass for Latin ones too).

A character of the Common or Inherited script (a digit, a hyphen, a combining accent) goes
with any script, unless Unicode names the scripts it is used with (its Script_Extensions:
U+30FC KATAKANA-HIRAGANA PROLONGED SOUND MARK goes with Hiragana and Katakana only).

Addresses stored before the rule (or written where no form checks them) may still mix
scripts so: ``staff_spelling`` is how staff see every address (the admin, the audit trail's
export), with the letters that stand out spelled by code point.

The script data comes from ``unicodedataplus`` (Python's own ``unicodedata`` has no Script
property).
"""

from __future__ import annotations

import functools
from collections import Counter

import unicodedataplus
from django.core.exceptions import ValidationError
from django.utils.text import get_text_list
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.errors import AccountsError
from authsuite.text import NAMED_AT_MOST, character_label

# A Han character is written in Chinese, Japanese and Korean; kana in Japanese; Hangul in
# Korean; Bopomofo in Chinese (UTS #39 section 5.1, the augmented script sets). So a label
# of Han and kana resolves to Japanese, and one of Han and Hangul to Korean.
_AUGMENTED = {
    "Hani": {"Hanb", "Jpan", "Kore"},
    "Hira": {"Jpan"},
    "Kana": {"Jpan"},
    "Hang": {"Kore"},
    "Bopo": {"Hanb"},
}
# The writing systems that may join Latin in one label at the Highly Restrictive level.
_WITH_LATIN_HIGHLY = frozenset({"Jpan", "Kore", "Hanb"})
# UTS #31 Table 4, Recommended Scripts: those in common modern use.
RECOMMENDED = frozenset({
    "Arab", "Armn", "Beng", "Bopo", "Cyrl", "Deva", "Ethi", "Geor", "Grek", "Gujr", "Guru",
    "Hang", "Hani", "Hebr", "Hira", "Kana", "Khmr", "Knda", "Laoo", "Latn", "Mlym", "Mymr",
    "Orya", "Sinh", "Taml", "Telu", "Thaa", "Thai", "Tibt",
})
# Scripts whose letters pass for Latin ones: never mixed with Latin (UTS #39 section 5.2).
_NOT_WITH_LATIN = frozenset({"Cyrl", "Grek"})
_ANY = frozenset({"Zyyy", "Zinh"})  # Common, Inherited


@functools.lru_cache(maxsize=4096)
def _scripts(char: str) -> frozenset[str] | None:
    """The scripts ``char`` is written in, augmented; None for one that goes with any."""
    extensions = unicodedataplus.script_extensions(char)
    if set(extensions) <= _ANY:
        return None
    scripts = set(extensions)
    for code in extensions:
        scripts |= _AUGMENTED.get(code, set())
    return frozenset(scripts)


def _resolved(sets: list[frozenset[str]]) -> frozenset[str]:
    """The scripts every one of ``sets`` shares (UTS #39's resolved script set)."""
    return frozenset.intersection(*sets) if sets else frozenset(RECOMMENDED)


def is_allowed_mix(text: str) -> bool:
    """Whether ``text`` (one label) meets the Moderately Restrictive level of UTS #39."""
    if text.isascii():
        return True
    sets = [s for c in text if (s := _scripts(c)) is not None]
    if _resolved(sets):
        return True  # one script
    besides_latin = _resolved([s for s in sets if "Latn" not in s])
    return bool(besides_latin & _WITH_LATIN_HIGHLY
                or besides_latin & (RECOMMENDED - _NOT_WITH_LATIN))


def script_name(char: str) -> str:
    """``Cyrillic``: the name of the script ``char`` is written in (for a character of the
    Common or Inherited script used with a few, the first of those: ``Hiragana`` for U+30FC)."""
    name = unicodedataplus.script(char)
    if name in ("Common", "Inherited"):
        code = unicodedataplus.script_extensions(char)[0]
        name = unicodedataplus.property_value_by_alias["script"].get(code, code)
    return name.replace("_", " ")


def mixed(text: str) -> tuple[list[str], list[str]]:
    """The scripts of ``text`` by name, the most used first, and its characters written in
    none of the scripts of the most used one (the ones to look at): for ``exаmple``,
    ``["Latin", "Cyrillic"]`` and ``["а"]``."""
    letters = [c for c in text if _scripts(c) is not None]
    # Named by the letters that have a script of their own, where there are any.
    named = [c for c in letters if unicodedataplus.script(c) not in ("Common", "Inherited")]
    names = Counter(script_name(c) for c in named or letters)
    ordered = [name for name, _count in names.most_common()]
    main = next(_scripts(c) for c in named or letters if script_name(c) == ordered[0])
    odd = list(dict.fromkeys(c for c in letters if not _scripts(c) & main))
    return list(dict.fromkeys([*ordered, *map(script_name, odd)])), odd


def mixed_label(email: str) -> str | None:
    """The first label of ``email``'s domain that mixes scripts beyond the rule, or None.

    The local part has no rule of its own: the suite takes only ASCII there (Django's
    ``EmailValidator`` refuses anything else, and no message could reach such a mailbox
    without SMTPUTF8, which Django's mail does not speak), so it mixes no scripts; an
    address refused for that is told so, not told of its scripts. The same goes for a
    domain with no IDNA spelling (``validate_mail_domain``)."""
    local, _at, domain = email.rpartition("@")
    if domain.isascii() or not local.isascii():
        return None
    try:
        domain.encode("idna")
    except UnicodeError:
        return None
    return next((label for label in domain.split(".") if not is_allowed_mix(label)), None)


def validate_scripts(email: str) -> None:
    """Refuse, for a new address (``email`` in its normal form), one whose domain has a
    label that mixes scripts beyond the rule above, naming the label, its scripts and the
    characters that stand out (they look like the others: that is the point of them).

    Only where an address is registered: an account that has such an address already
    still signs in, and asks for links, with it."""
    label = mixed_label(email)
    if label is None:
        return
    names, odd = mixed(label)
    values = {"label": label, "scripts": get_text_list(names, _("and")), "main": names[0]}
    message = _("“%(label)s” mixes %(scripts)s letters, so the address could pass for another "
                "one.") % values
    if odd:
        named = [character_label(c) for c in odd[:NAMED_AT_MOST]]
        if len(odd) > NAMED_AT_MOST:
            rest = len(odd) - NAMED_AT_MOST
            named.append(ngettext("%(count)d other", "%(count)d others", rest) % {"count": rest})
        values["characters"] = get_text_list(named, _("and"))
        message += " " + ngettext("%(characters)s is not %(main)s.",
                                  "%(characters)s are not %(main)s.", len(odd)) % values
    raise ValidationError(f"{message} {_('Type the domain in one script.')}",
                          code=AccountsError.EMAIL_MIXED_SCRIPT)


def _spelled(part: str) -> str:
    """``part`` (a label or a local part) with a punycode label decoded: the letters it shows."""
    if part[:4].lower() != "xn--":
        return part
    try:
        return part.encode("ascii").decode("idna")
    except UnicodeError:
        return part  # no valid punycode: shown, and checked, as it is


def _marked(address: str) -> tuple[str, list[str]]:
    """``address`` with each part that mixes scripts beyond the rule spelled out, and the
    scripts of those parts by name (none when every part is fine)."""
    local, at, domain = address.rpartition("@")
    parts = [local, *domain.split(".")] if at else domain.split(".")
    shown, names = [], []
    for part in map(_spelled, parts):
        if is_allowed_mix(part):
            shown.append(part)
            continue
        part_names, odd = mixed(part)
        names += [name for name in part_names if name not in names]
        shown.append("".join(_escaped(c) if c in odd else c for c in part))
    if not names:
        return address, []
    if at:
        return f"{shown[0]}@{'.'.join(shown[1:])}", names
    return ".".join(shown), names


def _escaped(c: str) -> str:
    """``\\u0430``: a character by its code point, as the audit trail escapes controls."""
    return f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}"


def staff_spelling(address: str) -> str:
    """``address`` as staff are shown it, so that a look-alike cannot pass for the address
    it imitates: ``ann@ex\\u0430mple.com (mixed scripts: Latin, Cyrillic)`` for
    ``ann@exаmple.com`` (Cyrillic ``а``).

    Each part (the local part, each label of the domain, a punycode label read as the
    letters it stands for) that mixes scripts beyond the rule above has its letters outside
    its main script written as ``\\uXXXX``, and the scripts are named after the address. An
    address whose every part meets the rule is returned unchanged, whatever its scripts
    (``ann@пример.рф``), and so is text that is no address (a username)."""
    if not address or (address.isascii() and "xn--" not in address.lower()):
        return address  # nearly every address: no letter outside ASCII to mix
    shown, names = _marked(address)
    if not names:
        return address
    return _("%(address)s (mixed scripts: %(scripts)s)") % {
        "address": shown, "scripts": ", ".join(names)}
