"""Check the answers before any file is written; stop with one clear line if one is wrong."""

import keyword
import re
import sys

ANSWERS = {
    "project_slug": {{cookiecutter.project_slug | tojson}},
    "module_name": {{cookiecutter.module_name | tojson}},
    "dvc_remote": {{cookiecutter.dvc_remote | tojson}},
    "dvc_remote_url": {{cookiecutter.dvc_remote_url | tojson}},
    "author_email": {{cookiecutter.author_email | tojson}},
}
URL_SCHEMES = {"s3": "s3://", "gs": "gs://", "azure": "azure://"}


def problem(answers: dict[str, str]) -> str | None:
    """Return what is wrong with the answers, in one sentence, or None."""
    slug, module = answers["project_slug"], answers["module_name"]
    remote, url = answers["dvc_remote"], answers["dvc_remote_url"].strip()
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", slug):
        return (
            f"project_slug {slug!r} is not a usable folder name: use letters, digits, "
            "'-', '_' or '.', starting with a letter or digit"
        )
    if not module.isidentifier() or keyword.iskeyword(module) or not module.isascii():
        return f"module_name {module!r} is not a Python identifier: use letters, digits and '_'"
    if module == "src":
        return "module_name 'src' would be imported as 'src': choose the project's own name"
    if "@" not in answers["author_email"]:
        return f"author_email {answers['author_email']!r} is not an e-mail address"
    if remote == "none":
        if url:
            return f"dvc_remote is 'none' but dvc_remote_url is {url!r}: leave the URL empty"
    elif not url:
        return f"dvc_remote is {remote!r} but dvc_remote_url is empty: give its URL"
    elif remote in URL_SCHEMES and not url.startswith(URL_SCHEMES[remote]):
        return f"dvc_remote is {remote!r}, so dvc_remote_url must start with {URL_SCHEMES[remote]}"
    elif remote == "local" and "://" in url:
        return f"dvc_remote is 'local', so dvc_remote_url must be a folder path, not {url!r}"
    return None


if __name__ == "__main__":
    message = problem(ANSWERS)
    if message:
        print(f"error: {message}.", file=sys.stderr)
        sys.exit(1)
