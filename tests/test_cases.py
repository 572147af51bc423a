"""Run every case under tests/cases (plan, apply, plan, apply on a fresh root) and judge it by its rules.

Each case runs once per session. The tests below look at different parts of the result,
so a failure names the rule or invariant that broke.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import pytest

from casecheck import ERROR_RULES, FILE_RULES, INVARIANTS, Case, CaseRun, load_cases, run_case
from hostroot import state_dir_exists, tree_differences

CASES = load_cases()
FILE_CASES = [case for case in CASES if case.spec["result"] == "files"]
ERROR_CASES = [case for case in CASES if case.spec["result"] == "error"]


def _rule_parameters() -> List[object]:
    parameters: List[object] = []
    for case in FILE_CASES:
        for rule in case.check:
            parameters.append(pytest.param(case, rule, id=f"{case.id}-{rule}"))
    return parameters


def _invariant_parameters() -> List[object]:
    return [pytest.param(case, name, id=f"{case.id}-{name}")
            for case in FILE_CASES for name in case.spec.get("invariants") or []]


@pytest.fixture(scope="session")
def case_runs(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, CaseRun]:
    """Run every case once, each in its own root."""
    return {case.id: run_case(case, tmp_path_factory.mktemp(case.id)) for case in CASES}


def test_cases_found() -> None:
    assert len(FILE_CASES) >= 14
    assert len(ERROR_CASES) >= 2


@pytest.mark.parametrize("case", FILE_CASES, ids=lambda case: case.id)
def test_plan_reports_changes(case: Case, case_runs: Dict[str, CaseRun]) -> None:
    run = case_runs[case.id]
    assert run.first_plan.status == 2, run.first_plan.stderr


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_plan_leaves_tree_alone(case: Case, case_runs: Dict[str, CaseRun]) -> None:
    run = case_runs[case.id]
    assert tree_differences(run.initial, run.after_first_plan) == []


@pytest.mark.parametrize("case", FILE_CASES, ids=lambda case: case.id)
def test_apply_succeeds(case: Case, case_runs: Dict[str, CaseRun]) -> None:
    run = case_runs[case.id]
    assert run.first_apply.status == 0, run.first_apply.stderr


@pytest.mark.parametrize("case", FILE_CASES, ids=lambda case: case.id)
def test_second_plan_empty(case: Case, case_runs: Dict[str, CaseRun]) -> None:
    run = case_runs[case.id]
    assert run.second_plan.status == 0, run.second_plan.stdout
    assert tree_differences(run.after_first_apply, run.after_second_plan) == []


@pytest.mark.parametrize("case", FILE_CASES, ids=lambda case: case.id)
def test_second_apply_noop(case: Case, case_runs: Dict[str, CaseRun]) -> None:
    run = case_runs[case.id]
    assert run.second_apply.status == 0, run.second_apply.stderr
    assert tree_differences(run.after_second_plan, run.after_second_apply) == []


@pytest.mark.parametrize(("case", "rule"), _rule_parameters())
def test_case_rule(case: Case, rule: str, case_runs: Dict[str, CaseRun]) -> None:
    assert rule in FILE_RULES, f"unknown check rule {rule!r}; teach casecheck.py what it means"
    run = case_runs[case.id]
    assert FILE_RULES[rule](run, case.check[rule]) == []


@pytest.mark.parametrize(("case", "invariant"), _invariant_parameters())
def test_case_invariant(case: Case, invariant: str, case_runs: Dict[str, CaseRun]) -> None:
    run = case_runs[case.id]
    assert INVARIANTS[invariant](run) == []


@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda case: case.id)
def test_error_rules_known(case: Case) -> None:
    unknown = sorted(set(case.check) - ERROR_RULES)
    assert unknown == [], "teach casecheck.py these rules"


@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda case: case.id)
def test_error_exit_nonzero(case: Case, case_runs: Dict[str, CaseRun]) -> None:
    run = case_runs[case.id]
    assert run.first_plan.status == 1
    assert run.first_apply.status == 1
    assert run.first_apply.stderr.startswith("bridgecfg: error: ")
    assert "Traceback" not in run.first_apply.stderr


@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda case: case.id)
def test_error_names_items(case: Case, case_runs: Dict[str, CaseRun]) -> None:
    run = case_runs[case.id]
    for word in case.check.get("error_must_mention") or []:
        assert str(word) in run.first_plan.stderr
        assert str(word) in run.first_apply.stderr


@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda case: case.id)
def test_error_changes_nothing(case: Case, case_runs: Dict[str, CaseRun]) -> None:
    run = case_runs[case.id]
    assert tree_differences(run.initial, run.after_second_apply) == []
    assert not state_dir_exists(run.root)


@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda case: case.id)
def test_error_keeps_inputs(case: Case, case_runs: Dict[str, CaseRun]) -> None:
    run = case_runs[case.id]
    for name in case.check.get("unchanged") or []:
        assert (run.root / case.relative(name)).read_bytes() == case.before[name]


def test_fixtures_match_yaml() -> None:
    for case in CASES:
        assert set(case.before) <= set(case.spec["paths"]), case.id
        assert Path(case.folder.name).name == case.id
