"""newsbot: a Discord bot that surfaces topical news from front-matter article files."""

__version__ = "0.1.0"
