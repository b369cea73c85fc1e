"""promptloop: prompt engineering as an engineering loop that lives in git."""

__version__ = "0.1.0"
