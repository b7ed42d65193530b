"""Extensions cookiecutter loads with this template (``_extensions`` in cookiecutter.json).

A hook that refuses an answer prints one sentence that says what is wrong and what to do, then
exits 1. Cookiecutter then logs "Stopping generation because ..." with the traceback of its own
hook runner, which says nothing more: the filter below keeps that line and drops the traceback.
"""

import logging

from jinja2.ext import Extension

STOPPED = "Stopping generation because"


class _WithoutTraceback(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith(STOPPED):
            record.exc_info = record.exc_text = None
        return True


class QuietHookFailure(Extension):
    """Loaded with every Jinja environment cookiecutter makes, before any hook runs."""

    def __init__(self, environment):
        super().__init__(environment)
        logger = logging.getLogger("cookiecutter.hooks")
        if not any(isinstance(each, _WithoutTraceback) for each in logger.filters):
            logger.addFilter(_WithoutTraceback())
