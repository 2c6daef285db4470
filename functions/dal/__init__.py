"""Data access. Every module here sends Key/Attr conditions through shared clients: see ``conditions``."""

from functions.dal import conditions

conditions.apply()
