"""Fault injection on family actions: the visual rates, seeded streams of their own.

Each family action is mapped onto the visual action it behaves like (a sync generation =
``CVProcess``, a submit = ``CVSync2AsyncSubmitTask``, a poll or file lookup =
``CVSync2AsyncGetResult``) for which faults apply. Exact faults: ``fault_script`` keys
``"<family action>:N"``, from the config or posted to ``/_sim/families/fault_script``.
"""

from __future__ import annotations

from collections.abc import Mapping

from prefect_haoee.simulator.codes import SimError
from prefect_haoee.simulator.config import SimulatorConfig
from prefect_haoee.simulator.faults import CV_PROCESS, GET_RESULT, SUBMIT, FaultDraws, parse_forced

SYNC, SUBMIT_LIKE, POLL_LIKE = CV_PROCESS, SUBMIT, GET_RESULT


def check_script(script: Mapping[str, str], actions: Mapping[str, str]) -> dict[str, str]:
    """Validate ``"<family action>:N" -> fault`` entries (raise ValueError)."""
    out: dict[str, str] = {}
    for where, name in script.items():
        action, sep, number = where.partition(":")
        if not sep or action not in actions or not number.isdigit() or int(number) < 1:
            known = ", ".join(actions)
            raise ValueError(f"fault_script key {where!r}: use ACTION:N, ACTION one of {known}")
        try:
            parse_forced(str(name), actions[action])
        except SimError:
            raise ValueError(f"fault_script {where!r}: unknown fault {name!r}") from None
        out[f"{action}:{int(number)}"] = str(name)
    return out


def family_fault_draws(config: SimulatorConfig, actions: Mapping[str, str]) -> FaultDraws:
    """The families' draws, with the config's script entries that name a family action."""
    script = {k: v for k, v in config.fault_script.items() if k.partition(":")[0] in actions}
    return FaultDraws(config, check_script(script, actions), "family_task_codes")
