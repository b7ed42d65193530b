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
# What `import <name>` finds in a project's environment, whichever remote and engine it has: the
# top-level modules of every package its lock files pin (tests/test_hooks.py checks the list
# against the installed ones), and dvc-ml-kit. A module of the project by one of these names
# would be shadowed by that package (or shadow it) and the first `dvc repro` would fail.
INSTALLED_MODULES = set(
    """
    adlfs aiobotocore aiohappyeyeballs aiohttp aiohttp_retry aioitertools aiosignal amqp
    annotated_doc annotated_types antlr4 anyio appdirs argcomplete asyncssh attr attrs azure
    billiard botocore celery certifi cffi charset_normalizer click click_didyoumean
    click_plugins click_repl cloudpickle colorama configobj cryptography dask dateutil decorator
    dictdiffer diskcache distributed distro dotenv dpath dulwich dvc dvc_azure dvc_data dvc_gs
    dvc_http dvc_ml_kit dvc_objects dvc_render dvc_s3 dvc_studio_client dvc_task entrypoints
    fastapi filelock flatten_dict flufl frozenlist fsspec funcy gcsfs git gitdb google
    google_auth_oauthlib google_crc32c grandalf grpc grpc_status gto h11 hydra idna
    importlib_metadata iniconfig isodate iterative_telemetry jinja2 jmespath joblib jwt knack
    kombu lazy_importer lightgbm locket markdown_it markupsafe mdurl msal msal_extensions
    msgpack multidict narwhals networkx numpy oauthlib omegaconf opentelemetry orjson packaging
    pandas partd pathspec pip platformdirs pluggy prettytable prompt_toolkit propcache proto
    psutil public py pyarrow pyasn1 pyasn1_modules pycparser pydantic pydantic_core
    pydantic_settings pydevd_plugins pydot pygit2 pygments pygtrie pyparsing pytest requests
    requests_oauthlib rich ruamel ruff s3fs scipy scmrepo semver setuptools shortuuid shtab six
    sklearn skops smmap sortedcontainers sqltrie starlette tabulate tblib threadpoolctl tlz
    tomlkit toolz tornado tqdm typing_extensions typing_inspection tzdata tzlocal urllib3
    uvicorn validate vine voluptuous wcwidth wrapt yaml yarl zc zict zipp
    """.split()  # noqa: SIM905 (one list, wrapped like prose, shorter than 166 lines)
)


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
    if module in INSTALLED_MODULES or module in sys.stdlib_module_names:
        stdlib = module in sys.stdlib_module_names
        where = "Python's standard library" if stdlib else "a package the project installs"
        return (
            f"module_name {module!r} is also a module of {where}, so `import {module}` would "
            "not find the project's code: choose another name"
        )
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
