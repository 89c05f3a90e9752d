"""Marking strings for the catalog where they must stay untranslated data at import time."""


def N_(text: str) -> str:
    """The text itself; `pybabel extract -k N_` puts it in the catalog, and the reader's language is looked up
    where it is shown (`gettext(text)`)."""
    return text
