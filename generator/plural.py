"""The English plural of a snake_case name, for default table names (``Person`` -> ``people``).

A default table name is part of the database schema: if it changed when a dependency was
upgraded, ``eventspec generate`` would write a migration renaming tables. So the rules are a
small exact table kept here, not an inflection library: irregular nouns, nouns that do not
change, then the regular spelling rules. Only the last word of ``order_item`` is inflected.
"""

from __future__ import annotations

IRREGULAR = {
    "person": "people",
    "child": "children",
    "man": "men",
    "woman": "women",
    "mouse": "mice",
    "goose": "geese",
    "foot": "feet",
    "tooth": "teeth",
    "ox": "oxen",
    "datum": "data",
    "medium": "media",
    "criterion": "criteria",
    "phenomenon": "phenomena",
    "appendix": "appendices",
    "axis": "axes",
    "matrix": "matrices",
    "vertex": "vertices",
    "quiz": "quizzes",
    "leaf": "leaves",
    "half": "halves",
    "shelf": "shelves",
    "wolf": "wolves",
    "thief": "thieves",
    "calf": "calves",
    "loaf": "loaves",
    "self": "selves",
    "life": "lives",
    "wife": "wives",
    "knife": "knives",
    "hero": "heroes",
    "potato": "potatoes",
    "tomato": "tomatoes",
    "echo": "echoes",
    "veto": "vetoes",
    "cactus": "cacti",
    "fungus": "fungi",
    "nucleus": "nuclei",
    "radius": "radii",
    "alumnus": "alumni",
    "syllabus": "syllabi",
}

UNCOUNTABLE = frozenset(
    {
        "advice",
        "aircraft",
        "audio",
        "baggage",
        "data",
        "deer",
        "equipment",
        "feedback",
        "fish",
        "furniture",
        "hardware",
        "information",
        "luggage",
        "metadata",
        "money",
        "moose",
        "news",
        "offspring",
        "people",
        "series",
        "sheep",
        "software",
        "species",
        "staff",
    }
)


def plural(name: str) -> str:
    """``category`` -> ``categories``, ``status`` -> ``statuses``, ``order_item`` ->
    ``order_items``, ``sales_person`` -> ``sales_people``."""
    head, sep, word = name.rpartition("_")
    return head + sep + _plural_word(word)


def _plural_word(word: str) -> str:
    if not word or word in UNCOUNTABLE:
        return word
    if word in IRREGULAR:
        return IRREGULAR[word]
    if word.endswith("sis"):  # analysis -> analyses, basis -> bases
        return word[:-2] + "es"
    if word.endswith(("s", "x", "z", "ch", "sh")):  # status, box, waltz, batch, wish
        return word + "es"
    if len(word) > 1 and word.endswith("y") and (word[-2] not in "aeiou" or word[-3:] == "quy"):
        return word[:-1] + "ies"  # category -> categories; day -> days
    return word + "s"
