"""Continuous integration: the pull request check, its report and gates, and publishing.

Each job is a make target (``make ci-pr``, ``make report``, ``make gate``, ``make ci-publish``),
so what CI does runs locally too."""
