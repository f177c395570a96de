"""Words as search compares them: folded (lower case, no accents, no Arabic vowel marks or
tatweel, one form of alef and yeh) and cut to a stem, the same for what is indexed and what
is asked, in every language. Plain Python, no database."""

from __future__ import annotations

import re
import unicodedata

# Words that say nothing about the subject, per language (after folding).
STOPWORDS = frozenset(
    """
    the and for are was were you your our how what which who whom when where why with from
    this that these those there have has had does did can could should would will shall into
    about any some not but all its their them they she his her him been being than then also
    more most very just such only other each per via use used using do we us is it an or of
    to in on at by be as if so no
    les des une est sont pour par dans avec sur qui que quoi quel quelle quels quelles comment
    pourquoi quand nous vous leur leurs ces cette cet son ses aux du de la le un et ou en au
    il elle ils elles on ne pas plus tout tous votre vos notre nos faire fait
    gli della delle degli dei nel nella nei per con che chi cosa come quando perche sono una
    uno il lo la le di da in su tra fra voi noi loro vostro vostra nostro nostra
    los las unos unas del para por con que quien como cuando porque son una uno el la lo de en
    y o su sus vuestro nuestra nuestro usted ustedes
    في من على الى عن ما ماذا كيف متى لماذا هل هذا هذه ذلك تلك التي الذي الذين مع او ان كان
    كانت لكم لنا هو هي هم نحن انتم عند بين كل قد لم لا
    """.split()
)
ARABIC_PREFIXES = ("وال", "بال", "كال", "فال", "لل", "ال", "و", "ف", "ب", "ل", "ك")
ARABIC_SUFFIXES = ("ات", "ون", "ين", "ها", "هم", "ة", "ه")
STEM_LENGTH = 6
MIN_TERM = 3
MAX_TERMS = 12
_WORD = re.compile(r"\w+", re.UNICODE)
_ARABIC = re.compile(r"[\u0600-\u06ff]")
_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ـ": None})


def fold(text: str) -> str:
    """Lower case, accents and Arabic marks removed, alef and yeh forms made one."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", bare).translate(_FOLD)


def is_arabic(word: str) -> bool:
    return bool(_ARABIC.search(word))


def stem(word: str) -> str:
    """A folded word cut to what its forms share: Arabic prefixes and suffixes taken off, a
    Latin plural's s dropped and the rest cut to a few letters (flood, floods, flooding)."""
    if is_arabic(word):
        for prefix in ARABIC_PREFIXES:
            # A lone letter may begin the word itself (فيضان): taken off long words only.
            rest = MIN_TERM if len(prefix) > 1 else MIN_TERM + 2
            if word.startswith(prefix) and len(word) - len(prefix) >= rest:
                word = word[len(prefix) :]
                break
        for suffix in ARABIC_SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= MIN_TERM:
                return word[: -len(suffix)]
        return word
    if len(word) > 4 and word.endswith("s"):
        word = word[:-1]
    return word[:STEM_LENGTH]


def words(text: str) -> list[str]:
    """A query's folded words that carry meaning, each once, in order (at most a dozen)."""
    found: list[str] = []
    for word in _WORD.findall(fold(text)):
        if len(word) < MIN_TERM or word in STOPWORDS or word.isdigit() or word in found:
            continue
        found.append(word)
    return found[:MAX_TERMS]


def terms(text: str) -> list[str]:
    """The distinct stems of a query's words that carry meaning, in order."""
    found: list[str] = []
    for s in (stem(w) for w in words(text)):
        if s not in found:
            found.append(s)
    return found


def matched(query_terms: list[str], folded_text: str) -> int:
    """How many of the terms the (folded) text holds, anywhere in a word."""
    return sum(1 for t in query_terms if t in folded_text)


def language_of(text: str, fallback: str) -> str:
    """Arabic when the text is written in Arabic script; otherwise the writer's language."""
    letters = [c for c in text if c.isalpha()]
    if letters and sum(1 for c in letters if is_arabic(c)) * 2 > len(letters):
        return "ar"
    return fallback
