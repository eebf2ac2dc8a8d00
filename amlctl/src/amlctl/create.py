"""`new`: create a project from the Azure ML project template, checking every answer first.

cookiecutter alone ignores an unknown answer (a typo bakes the default), stops with a
traceback on a choice or yes/no value it does not know, evaluates template syntax in
answers and lets private, derived names be overridden. This command checks the answers
against the template's questions, renders the derived names, runs the template's own
validation (``hooks/pre_gen_project.py``'s ``validate``) and only then calls cookiecutter,
so a bad answer is one line naming the field and nothing is written.

Asked interactively, it puts only the questions that earlier answers make relevant
(no GPU size without a GPU cluster, no cron without a schedule, no registry
promotion with one environment).
"""

from __future__ import annotations

import argparse
import difflib
import importlib.util
import json
import logging
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .project import ProjectError

TEMPLATE_SYNTAX = re.compile(r"\{\{|\{%|\{#")  # what Jinja would evaluate
TRUE_WORDS = ("1", "true", "t", "yes", "y", "on")
FALSE_WORDS = ("0", "false", "f", "no", "n", "off")
# question -> (earlier question, the value that makes it relevant)
ASKED_ONLY_WHEN = {
    "model_registry": ("environments", "dev-and-prod"),
    "gpu_vm_size": ("gpu_cluster", True),
    "gpu_max_nodes": ("gpu_cluster", True),
    "schedule_cron": ("schedule", True),
    "alert_email": ("online_endpoint", True),
}
# Asked only after "Customise advanced settings?" is answered yes (their defaults are sound,
# derived from earlier answers, or tuning); each can still be given as NAME=VALUE.
ADVANCED = (
    "project_slug",
    "resource_prefix",
    "model_registry",
    "cpu_vm_size",
    "cpu_min_nodes",
    "cpu_max_nodes",
    "cpu_idle_seconds_before_scaledown",
    "gpu_cluster",
    "gpu_vm_size",
    "gpu_max_nodes",
    "component_style",
    "schedule_cron",
    "network_isolation",
    "spark_step",
    "automl",
    "github_repo",
    "python_version",
)
ADVANCED_QUESTION = (
    "Customise advanced settings (naming, clusters, Spark, AutoML, network)? [y/N]: "
)
ANSWER = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.DOTALL)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "answers",
        nargs="*",
        metavar="NAME=VALUE",
        help="answers to the template's questions, e.g. resource_prefix=churn gpu_cluster=yes",
    )
    parser.add_argument(
        "--template",
        default=None,
        help="path or git URL of the template (default: the template amlctl was developed in, "
        "when amlctl runs from its checkout)",
    )
    parser.add_argument("--checkout", default=None, help="branch, tag or commit of a git template")
    parser.add_argument(
        "-o", "--output-dir", type=Path, default=Path("."), help="where the project folder goes"
    )
    parser.add_argument(
        "--no-input",
        action="store_true",
        help="ask nothing: the defaults for every question not answered on the command line",
    )


def main(args: argparse.Namespace) -> int:
    project = create(
        args.answers,
        template=args.template,
        checkout=args.checkout,
        output_dir=args.output_dir,
        interactive=not args.no_input,
    )
    print(f"created {project}")
    return 0


def default_template() -> str:
    """The template beside this package, when amlctl runs from the template's checkout."""
    here = Path(__file__).resolve()
    for folder in here.parents[:4]:
        if (folder / "cookiecutter.json").is_file() and (folder / "hooks").is_dir():
            return str(folder)
    raise ProjectError(
        "--template is required: the path or git URL of the Azure ML project template"
    )


def _require_cookiecutter() -> None:
    try:
        import cookiecutter  # noqa: F401
    except ImportError:
        raise ProjectError("amlctl new needs cookiecutter: pip install 'amlctl[new]'") from None


def create(
    answers: list[str] | tuple[str, ...],
    *,
    template: str | None = None,
    checkout: str | None = None,
    output_dir: Path = Path("."),
    interactive: bool = False,
    ask: Callable[[str], str] = input,
    say: Callable[[str], None] = print,
) -> Path:
    """Check the answers, ask what is still relevant, and bake; returns the project folder."""
    _require_cookiecutter()
    # cookiecutter logs a failed clone with its traceback; the one line below says it all
    logging.getLogger("cookiecutter").addHandler(logging.NullHandler())
    if output_dir.exists() and not output_dir.is_dir():
        raise ProjectError(f"-o {output_dir}: exists and is not a folder; nothing was created")
    given = parse_answers(answers)
    repo_dir = _template_dir(template or default_template(), checkout)
    questions = read_questions(repo_dir)
    chosen = check_answers(questions, given)
    if interactive:

        def check(name: str, answers: dict[str, Any]) -> list[str]:
            """The template's own rules for one answer, as it is typed."""
            context = render_context(repo_dir, answers)
            return [p for p in template_problems(repo_dir, context) if p.split("=", 1)[0] == name]

        chosen = ask_questions(questions, chosen, ask, say, check=check)
    context = render_context(repo_dir, chosen)
    problems = template_problems(repo_dir, context)
    while problems and interactive:
        fields = [f for f in dict.fromkeys(p.split("=", 1)[0] for p in problems) if f in chosen]
        if not fields:  # nothing the user answered is at fault: asking again cannot help
            break
        for problem in problems:
            say(f"error: {problem}")
        for field in fields:
            chosen.pop(field, None)
            chosen = ask_questions(questions, chosen, ask, say, only={field})
        context = render_context(repo_dir, chosen)
        problems = template_problems(repo_dir, context)
    if problems:
        raise ProjectError("\n".join(problems) + "\nnothing was created")
    target = output_dir / str(context["project_slug"])
    if target.exists():
        raise ProjectError(f"{target} already exists; nothing was created")
    # a local template is baked from its folder; a git one from its URL again, so that
    # .cruft.json records where later template changes come from
    local = template is None or Path(template).expanduser().is_dir()
    source = str(repo_dir) if local else str(template)
    return _bake(source, checkout, chosen, output_dir)


class Questions:
    """The template's questions (cookiecutter.json), their help texts and kinds."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.prompts: dict[str, Any] = spec.get("__prompts__", {}) or {}
        self.public = [k for k in spec if not k.startswith("_")]

    def kind(self, name: str) -> str:
        value = self.spec[name]
        if isinstance(value, bool):
            return "boolean"
        if isinstance(value, list):
            return "choice"
        return "text"

    def choices(self, name: str) -> list[str]:
        return [str(c) for c in self.spec[name]]

    def help(self, name: str) -> str:
        prompt = self.prompts.get(name, name)
        if isinstance(prompt, dict):
            return str(prompt.get("__prompt__", name))
        return str(prompt)


def parse_answers(answers: list[str] | tuple[str, ...]) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for item in answers:
        match = ANSWER.match(item)
        if not match:
            raise ProjectError(f"{item}: expected NAME=VALUE")
        name, value = match.groups()
        if name in parsed:
            raise ProjectError(f"{name}: answered twice")
        parsed[name] = value
    return parsed


def read_questions(repo_dir: Path) -> Questions:
    file = repo_dir / "cookiecutter.json"
    try:
        spec = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ProjectError(f"{file}: not a readable cookiecutter.json ({exc})") from None
    if not isinstance(spec, dict):
        raise ProjectError(f"{file}: not a cookiecutter template")
    return Questions(spec)


def check_answers(questions: Questions, given: dict[str, str]) -> dict[str, Any]:
    """The answers as cookiecutter takes them; every problem is one line naming the field."""
    problems = []
    chosen: dict[str, Any] = {}
    for name, text in given.items():
        problem, value = answer_problem(questions, name, text)
        if problem:
            problems.append(problem)
        else:
            chosen[name] = value
    if problems:
        raise ProjectError("\n".join(problems) + "\nnothing was created")
    return chosen


def answer_problem(questions: Questions, name: str, text: str) -> tuple[str | None, Any]:
    """(why the answer is refused, None) or (None, the value to give cookiecutter)."""
    if name not in questions.spec:
        close = difflib.get_close_matches(name, questions.public, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return f"{name}: not a question of this template{hint}", None
    if name.startswith("_"):
        return f"{name}: derived by the template from other answers; it cannot be set", None
    if TEMPLATE_SYNTAX.search(text):
        return f"{name}={text!r}: must not contain template syntax ({{{{, {{%, {{#)", None
    kind = questions.kind(name)
    if kind == "boolean":
        word = text.strip().lower()
        if word in TRUE_WORDS:
            return None, True
        if word in FALSE_WORDS:
            return None, False
        return f"{name}={text!r}: must be yes or no (true/false, y/n, 1/0)", None
    if kind == "choice":
        choices = questions.choices(name)
        if text not in choices:
            return f"{name}={text!r}: must be one of {', '.join(choices)}", None
    return None, text


def relevant(questions: Questions, name: str, chosen: dict[str, Any]) -> bool:
    condition = ASKED_ONLY_WHEN.get(name)
    if condition is None:
        return True
    other, wanted = condition
    value = chosen.get(other, questions.spec.get(other))
    return value == wanted


def ask_questions(
    questions: Questions,
    chosen: dict[str, Any],
    ask: Callable[[str], str],
    say: Callable[[str], None],
    only: set[str] | None = None,
    check: Callable[[str, dict[str, Any]], list[str]] | None = None,
) -> dict[str, Any]:
    """Ask, in the template's order, each relevant question not answered yet.

    The advanced questions (``ADVANCED``) come only after a yes to one question that opens
    them; without it they keep their defaults. ``check`` holds each answer to the template's
    own rules as it is typed, so a bad region is asked again at once, with a suggestion.
    """
    chosen = dict(chosen)
    so_far: dict[str, Any] = {}  # every earlier answer or default: what defaults render from
    advanced: bool | None = True if only is not None else None  # re-asking: ask what is named
    for name in questions.public:
        default = _default(questions, name, so_far)
        wanted = only is None or name in only
        if name in chosen or not wanted or not relevant(questions, name, {**so_far, **chosen}):
            so_far[name] = chosen.get(name, default)
            continue
        if name in ADVANCED and advanced is None:
            advanced = _yes(_read(ask, ADVANCED_QUESTION, "advanced settings"))
        if name in ADVANCED and not advanced:
            so_far[name] = default
            continue
        while True:
            text = _read(ask, _question(questions, name, default), name)
            if text == "":
                value = default
            else:
                if questions.kind(name) == "choice" and text.isdigit():
                    options = questions.choices(name)
                    if 1 <= int(text) <= len(options):
                        text = options[int(text) - 1]
                problem, value = answer_problem(questions, name, text)
                if problem is not None:
                    say(f"error: {problem}")
                    continue
            problems = check(name, {**so_far, **chosen, name: value}) if check else []
            if not problems:
                chosen[name] = value
                break
            for problem in problems:
                say(f"error: {problem}")
        so_far[name] = chosen[name]
    return chosen


def _yes(text: str) -> bool:
    return text.strip().lower() in TRUE_WORDS


def _read(ask: Callable[[str], str], prompt: str, name: str) -> str:
    try:
        return ask(prompt).strip()
    except EOFError:
        raise ProjectError(
            f"{name}: no answer (input ended); answer it as {name}=VALUE or use --no-input"
        ) from None


def _question(questions: Questions, name: str, default: Any) -> str:
    text = questions.help(name)
    kind = questions.kind(name)
    if kind == "boolean":
        return f"{text} [{'Y/n' if default else 'y/N'}]: "
    if kind == "choice":
        options = questions.choices(name)
        details = questions.prompts.get(name)
        lines = []
        for index, option in enumerate(options, 1):
            note = details.get(option, option) if isinstance(details, dict) else option
            lines.append(f"  {index} - {note}")
        return f"{text}\n" + "\n".join(lines) + f"\nChoose from 1-{len(options)} [1]: "
    return f"{text} [{default}]: "


def _default(questions: Questions, name: str, so_far: dict[str, Any]) -> Any:
    """The default of a question, its template rendered with the earlier answers."""
    raw = questions.spec[name]
    if questions.kind(name) == "choice":
        return questions.choices(name)[0]
    if not isinstance(raw, str) or not TEMPLATE_SYNTAX.search(raw):
        return raw
    from cookiecutter.environment import StrictEnvironment
    from cookiecutter.prompt import render_variable

    env = StrictEnvironment(context={"cookiecutter": questions.spec})
    try:
        return render_variable(env, raw, dict(so_far))
    except Exception as exc:  # a template's own default that does not render
        raise ProjectError(f"{name}: its default {raw!r} cannot be rendered ({exc})") from None


def render_context(repo_dir: Path, chosen: dict[str, Any]) -> dict[str, Any]:
    """Every answer and derived name, rendered as cookiecutter will render them."""
    from cookiecutter.generate import generate_context
    from cookiecutter.prompt import prompt_for_config

    context = generate_context(
        context_file=str(repo_dir / "cookiecutter.json"), extra_context=chosen
    )
    try:
        return dict(prompt_for_config(context, no_input=True))
    except Exception as exc:  # UndefinedVariableInTemplate and the like: the template's fault
        raise ProjectError(f"the template's questions cannot be rendered: {exc}") from None


def template_problems(repo_dir: Path, context: dict[str, Any]) -> list[str]:
    """The template's own checks (``validate`` in hooks/pre_gen_project.py), if it has them."""
    hook = repo_dir / "hooks" / "pre_gen_project.py"
    if not hook.is_file():
        return []
    spec = importlib.util.spec_from_file_location("_template_pre_gen_project", hook)
    if spec is None or spec.loader is None:
        return []
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    validate = getattr(module, "validate", None)
    return list(validate(context)) if callable(validate) else []


def _template_dir(template: str, checkout: str | None) -> Path:
    """A local folder holding the template (a git URL is cloned first)."""
    local = Path(template).expanduser()
    if local.is_dir():
        if not (local / "cookiecutter.json").is_file():
            raise ProjectError(f"{template}: not a cookiecutter template (no cookiecutter.json)")
        return local.resolve()
    from cookiecutter.config import get_user_config
    from cookiecutter.exceptions import CookiecutterException
    from cookiecutter.repository import determine_repo_dir

    config = get_user_config(default_config=True)
    try:
        repo_dir, _ = determine_repo_dir(
            template,
            abbreviations=config["abbreviations"],
            clone_to_dir=config["cookiecutters_dir"],
            checkout=checkout,
            no_input=True,
        )
    except (CookiecutterException, OSError, subprocess.CalledProcessError) as exc:
        raise ProjectError(f"{template}: cannot get the template: {_reason(exc)}") from None
    return Path(repo_dir)


def _reason(exc: BaseException) -> str:
    """One line of why cookiecutter or git failed (git's own last line of output)."""
    if isinstance(exc, subprocess.CalledProcessError):
        said = (exc.stderr or exc.output or b"").decode(errors="replace").strip().splitlines()
        command = " ".join(str(a) for a in exc.cmd[:2]) if isinstance(exc.cmd, list) else "git"
        return f"`{command}` failed" + (f": {said[-1]}" if said else f" (exit {exc.returncode})")
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _bake(source: str, checkout: str | None, chosen: dict[str, Any], output_dir: Path) -> Path:
    from cookiecutter.exceptions import CookiecutterException
    from cookiecutter.main import cookiecutter

    try:
        project = cookiecutter(
            source,
            checkout=checkout,
            no_input=True,
            extra_context=chosen,
            output_dir=str(output_dir),
            default_config=True,
        )
    except CookiecutterException as exc:  # the hook printed its reasons already
        raise ProjectError(f"the template refused the answers ({exc}); nothing was made") from None
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ProjectError(f"the project cannot be written: {_reason(exc)}") from None
    return Path(project)
