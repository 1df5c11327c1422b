"""A config the interpreter refuses, in one line: the YAML file, the bad key, a short hint, a help command that exists.

jsonargparse (LightningCLI) reports a bad config as a nested block of
Union-subtype attempts. :func:`explain` turns it into::

    FILE: model.init_args.lrr: unknown key for lightning_modules.didfuse.DIDFuse (did you mean 'lr'?);
    its keys: ivif-bench train --model.help lightning_modules.didfuse.DIDFuse

:func:`check_values` refuses numbers no training can use (``max_steps: -5``, a
negative seed, ``batch_size: 0``) before anything is built. Both are used by
every command that reads a config (:mod:`benchmarks.profiles`).

Example:
    >>> explain("Group 'trainer' does not accept option 'max_step'", "smoke.yaml")
    "smoke.yaml: trainer.max_step: unknown key (did you mean 'max_steps'?); the Trainer's keys: ivif-bench train --help"
"""

from __future__ import annotations

import difflib
import inspect
import re
from typing import Any, Iterable, Mapping

from datamodules.errors import UserError

__all__ = ["ConfigError", "check_values", "explain"]

_PARSER_KEY = re.compile(r'^Parser key "([^"]+)":\s*(.*)$')
_CLASS = re.compile(r"Problem with given class_path '([^']+)'")
_GIVEN_CLASS = re.compile(r"'class_path': '([^']+)'")
_NOT_ACCEPTED = re.compile(r"Option '([^']+)' is not accepted")
_GROUP = re.compile(r"Group '([^']+)' does not accept (?:nested )?(?:option|key) '([^']+)'")
_EXPECTED = re.compile(r"Expected a <class '([^']+)'>(?:\. Got value: (.*))?")
_NOISE = re.compile(r"^(- )?(Does not validate against any of the Union subtypes|Subtypes:|Errors:|"
                    r"Expected a <class 'NoneType'>|Given value type:)")


class ConfigError(UserError):
    """A config or config command line the interpreter refuses (the message is :func:`explain`'s one line)."""


def _parameters(class_path: str | None) -> list[str]:
    """The ``__init__`` parameters of ``class_path`` (``lightning.Trainer`` for ``trainer``), ``[]`` if unknown."""
    try:
        if class_path == "trainer":
            from lightning.pytorch import Trainer as cls
        else:
            import importlib

            module, _, name = str(class_path).rpartition(".")
            cls = getattr(importlib.import_module(module), name)
        return [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "args", "kwargs")]
    except Exception:  # noqa: BLE001 - a hint only: no suggestion when the class cannot be inspected
        return []


def _suggest(key: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _help(section: str, class_path: str | None) -> str:
    if section in ("model", "data") and class_path:
        return f"its keys: ivif-bench train --{section}.help {class_path}"
    if section == "trainer":
        return "the Trainer's keys: ivif-bench train --help"
    return "the config format: ivif-bench train --help"


def _expected(lines: list[str]) -> str | None:
    kinds, got = [], None
    for line in lines:
        match = _EXPECTED.search(line)
        if match and match.group(1) != "NoneType":
            kinds.append(match.group(1).rpartition(".")[2])
            got = match.group(2) if match.group(2) is not None else got
        elif line.startswith("Given value:"):
            got = got if got is not None else line.split(":", 1)[1].strip()
    if not kinds:
        return None
    return f"expected {' or '.join(dict.fromkeys(kinds))}" + (f", got {got!r}" if got is not None else "")


def explain(message: str, where: str, classes: Mapping[str, str] | None = None) -> str:
    """One line for jsonargparse's ``message`` about a config read from ``where`` (a file, or "command line").

    ``classes`` (``{"model": class_path, "data": class_path}``, from the file) names the class of a section
    when the message does not."""
    lines = [re.sub(r"^- ", "", line.strip()) for line in str(message).splitlines() if line.strip()]
    if not lines:
        return f"{where}: the config is refused"
    first = lines[0]
    if first.startswith("unrecognized arguments:"):
        given = first.split(":", 1)[1].split()
        option = next((g for g in given if g.startswith("--")), given[0] if given else "")
        section = option.lstrip("-").split(".", 1)[0]
        known = [f"--trainer.{p}" for p in _parameters("trainer")] if section == "trainer" else []
        return (f"command line: {option}: unknown option{_suggest(option, known)}; the options: ivif-bench train "
                "--help")
    group = _GROUP.search(first)
    if group:
        section, key = group.groups()
        return (f"{where}: {section}.{key}: unknown key{_suggest(key, _parameters(section))}; "
                f"{_help(section, None)}")
    match = _PARSER_KEY.match(first)
    if not match:
        return f"{where}: {' '.join(lines)[:400]}"
    section, rest = match.group(1), [match.group(2)] if match.group(2) else []
    rest += lines[1:]
    if section == "config":
        missing = re.search(r"File does not exist: '([^']+)'", " ".join(rest))
        return f"{missing.group(1)}: no such config file" if missing else f"{where}: --config: {' '.join(rest)[:300]}"
    class_path = next((m.group(1) for m in map(_CLASS.search, rest) if m), None)
    class_path = class_path or next((m.group(1) for m in map(_GIVEN_CLASS.search, rest) if m), None)
    top = section.split(".", 1)[0]
    class_path = class_path or (classes or {}).get(top)
    prefix = f"{section}.init_args." if top in ("model", "data") and "." not in section else f"{section}."
    for index, line in enumerate(rest):
        unknown = _NOT_ACCEPTED.search(line)
        if unknown:
            key = unknown.group(1)
            owner = f" for {class_path}" if class_path else ""
            return (f"{where}: {prefix}{key}: unknown key{owner}{_suggest(key, _parameters(class_path))}; "
                    f"{_help(top, class_path)}")
        nested = _PARSER_KEY.match(line)
        if nested:
            reason = _expected(rest[index + 1:]) or " ".join(rest[index + 1:index + 2]) or nested.group(2)
            return f"{where}: {prefix}{nested.group(1)}: {reason}; {_help(top, class_path)}"
        if "has no attribute" in line or "No module named" in line or "Import path" in line:
            return (f"{where}: {section}.class_path {class_path!r} cannot be imported ({line.lstrip('- ')}); give "
                    "package.module.Class")
    reason = _expected(rest) or " ".join(line.lstrip("- ") for line in rest if not _NOISE.match(line))[:300]
    return f"{where}: {section}: {reason}; {_help(top, class_path)}"


# ------------------------------------------------------------------ numbers no training can use
def _integer_rule(value: Any, minimum: int, also: tuple = (None,)) -> bool:
    if value in also or isinstance(value, bool):
        return True
    return isinstance(value, int) and value >= minimum


# trainer argument -> (smallest value, other accepted values, what to write)
_TRAINER_RULES: dict[str, tuple[int, tuple, str]] = {
    "max_steps": (1, (None, -1), "-1 (no limit) or an integer >= 1"),
    "max_epochs": (1, (None, -1), "-1 (no limit) or an integer >= 1"),
    "min_steps": (0, (None,), "an integer >= 0"),
    "min_epochs": (0, (None,), "an integer >= 0"),
    "log_every_n_steps": (1, (None,), "an integer >= 1"),
    "num_nodes": (1, (None,), "an integer >= 1"),
    "accumulate_grad_batches": (1, (None,), "an integer >= 1"),
    "check_val_every_n_epoch": (1, (None,), "an integer >= 1"),
}
# data init_args -> (smallest value, what to write); checked where the data class has them
_DATA_RULES: dict[str, tuple[int, str]] = {"batch_size": (1, "an integer >= 1"), "crop_size": (1, "an integer >= 1"),
                                            "patch_stride": (1, "an integer >= 1"), "num_workers": (0, "an integer >= 0")}


def check_values(config: Mapping[str, Any], where: str) -> None:
    """Refuse the numbers of a parsed config that no training can use, naming the file and the key.

    Args:
        config: ``{"seed_everything", "trainer": {...}, "data": {"init_args": {...}}, ...}``.

    Raises:
        ConfigError: one line, ``FILE: KEY: must be ...; got VALUE``.
    """
    from benchmarks.commands.numbers import MAX_SEED

    seed = config.get("seed_everything")
    if not (seed is None or isinstance(seed, bool) or (isinstance(seed, int) and 0 <= seed <= MAX_SEED)):
        raise ConfigError(f"{where}: seed_everything: must be true / false or a seed 0..{MAX_SEED}; got {seed!r}")
    trainer = config.get("trainer") or {}
    for key, (minimum, also, text) in _TRAINER_RULES.items():
        if key in trainer and not _integer_rule(trainer[key], minimum, also):
            raise ConfigError(f"{where}: trainer.{key}: must be {text}; got {trainer[key]!r}")
    devices = trainer.get("devices")
    if isinstance(devices, int) and not isinstance(devices, bool) and devices != -1 and devices < 1:
        raise ConfigError(f"{where}: trainer.devices: must be a count >= 1, -1 or 'auto', or a list of indices; "
                          f"got {devices!r}")
    data = (config.get("data") or {}).get("init_args") or {}
    for key, (minimum, text) in _DATA_RULES.items():
        value = data.get(key)
        if value is not None and not _integer_rule(value, minimum):
            raise ConfigError(f"{where}: data.init_args.{key}: must be {text}; got {value!r}")
