"""Exceptions for input a user can correct; the command line reports them in one line."""

from __future__ import annotations


class UnknownNameError(KeyError):
    """A name (data set, method, modality, metric, column ...) that is not known; the message
    says which names are."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class DataTypeError(TypeError, ValueError):
    """Data of the wrong type (a text column holding numbers, a feature column of strings): a
    ``TypeError`` that the command line reports in one line, as it does a ``ValueError``."""
