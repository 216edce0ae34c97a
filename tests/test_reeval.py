"""Noise-aware search: the best candidates re-evaluated with more seeds, and an export that says
which of its differences are noise."""
import json

import pytest
import yaml

from nas.report import noise as noise_report
from nas.report import rankstats
from nas.report.export import export_experiment
from nas.run.driver import Resources, run_search
from nas.search import reeval
from nas.space.config import ReevalConfig
from nas.space.parse import load_space, parse_space
from nas.space.problems import SpaceError
from tests.test_search import TRAIN, rows, write_space


def _cand(arch, val, params, warm=None):
    return {"trial_id": f"t-{arch}", "arch_id": arch, "status": "ok", "val_acc": val, "params": params,
            "flops": 1, "warm_start": warm, "sharing": "none", "spec": {}}


def _reeval(arch, seed, val):
    return {"arch_id": arch, "status": reeval.STATUS, "seed": seed, "val_acc": val}


@pytest.fixture
def space(tmp_path):
    return load_space(write_space(tmp_path, reevaluate={"top": 2, "seeds": 3}))


def test_the_option_defaults_on_and_names_bad_values(tmp_path):
    base = yaml.safe_load(write_space(tmp_path).read_text())
    del base["reevaluate"]
    assert parse_space(base).reevaluate == ReevalConfig()
    assert parse_space(base | {"reevaluate": False}).reevaluate is None
    with pytest.raises(SpaceError, match=r"reevaluate.seeds: expected an integer >= 2"):
        parse_space(base | {"reevaluate": {"seeds": 1}})
    with pytest.raises(SpaceError, match=r"reevaluate.tops: unknown key; did you mean 'top'"):
        parse_space(base | {"reevaluate": {"tops": 3}})


def test_choose_takes_the_best_by_rank_then_accuracy_and_the_baselines(space):
    journal = [_cand("a", 0.90, 100), _cand("b", 0.80, 50), _cand("c", 0.85, 100), _cand("d", 0.70, 200, "plain")]
    chosen = [c["arch_id"] for c in reeval.choose(journal, space)]
    assert chosen == ["a", "b", "d"]  # front a, b (top 2); the plain net always
    todo = reeval.pending(reeval.choose(journal, space), journal, space)
    assert [(c["arch_id"], s) for c, s in todo] == [("a", 1), ("a", 2), ("b", 1), ("b", 2), ("d", 1), ("d", 2)]
    # a's second seed came back low: its mean drops below c's, and b now dominates it; c enters the top
    journal += [_reeval("a", 1, 0.70), {**_reeval("a", 2, None), "outcome": "failed"}]
    chosen = {c["arch_id"]: c for c in reeval.choose(journal, space)}
    assert sorted(chosen) == ["b", "c", "d"]
    (a,) = reeval.aggregate([journal[0]], journal)
    assert a["score_seeds"] == [0.90, 0.70] and a["val_acc"] == a["score"] == pytest.approx(0.80) and a["n_seeds"] == 2
    assert reeval.pending([a], journal, space) == []  # seed 1 done, seed 2 failed: not tried again
    assert [s for c, s in reeval.pending(list(chosen.values()), journal, space) if c["arch_id"] == "c"] == [1, 2]


def test_the_most_trainings_a_reevaluation_can_add_bounds_what_the_eta_counts(tmp_path):
    # round 1: the top and the warm-started baselines; each later round: at most `top` new nets
    def most(**kw):
        return reeval.most_trainings(load_space(write_space(tmp_path, **kw)))
    assert most(warm_start=["plain", "paper"], reevaluate={"top": 4, "seeds": 2, "rounds": 1}) == 6
    assert most(warm_start=["plain"], reevaluate={"top": 3, "seeds": 3, "rounds": 2}) == 2 * (3 + 1 + 3)
    assert most(warm_start=[], reevaluate=False) == 0


def test_a_train_acc_space_aggregates_and_ranks_by_train_acc(tmp_path):
    space = load_space(write_space(tmp_path, objectives=["train_acc", "params"], reevaluate={"top": 1, "seeds": 2}))
    assert space.score == "train_acc" and space.metric_names == ["train_acc", "params"]
    # a leads by val_acc, b by train_acc: the score alone decides
    journal = [_cand("a", 0.90, 100) | {"train_acc": 0.60}, _cand("b", 0.70, 100) | {"train_acc": 0.65}]
    assert [c["arch_id"] for c in reeval.choose(journal, space)] == ["b"]
    journal.append(_reeval("b", 1, 0.99) | {"train_acc": 0.51})
    b = reeval.aggregate(journal[1:2], journal, 0, "train_acc")[0]
    assert b["train_acc"] == b["score"] == pytest.approx(0.58) and b["score_seeds"] == [0.65, 0.51]
    assert b["val_acc"] == 0.70  # the other accuracy stays the first seed's
    assert [c["arch_id"] for c in reeval.choose(journal, space)] == ["a"]  # b's mean fell to 0.58
    with pytest.raises(SpaceError, match=r"objectives: val_acc and train_acc are both accuracy scores; keep one"):
        load_space(write_space(tmp_path, objectives=["val_acc", "train_acc", "params"]))


def test_noise_verdicts_use_the_pooled_spread():
    front = [{"arch_id": "a", "score": 0.90, "n_seeds": 2}, {"arch_id": "b", "score": 0.85, "n_seeds": 2}]
    base = {"plain": {"arch_id": "p", "score": 0.89, "n_seeds": 2}}
    spread = rankstats.Spread(sd=0.01, df=4)  # half-width 2 vs 2: 0.0278
    judged = noise_report.judge(front, base, spread)
    assert judged[0]["vs"]["plain"]["verdict"] == "within noise"
    assert judged[1]["vs"]["plain"]["verdict"] == "below"
    assert judged[0]["within_noise_of"] == [] and judged[1]["within_noise_of"] == []
    text = "\n".join(noise_report.lines(front, judged, spread, 3))
    assert "sd 0.0100" in text and "±0.0278" in text and "below plain (-0.0400)" in text
    unmeasured = noise_report.lines(front, noise_report.judge(front, base, None), None, 0)
    assert "not measured" in unmeasured[0]


def test_a_search_reevaluates_resumes_and_exports_mean_and_noise(tmp_path, capsys, ray_session):
    # Its trials are prefixes, the first epoch of a 3-epoch schedule, as trials and re-evaluations,
    # scored by their training accuracy: the proxy that ranked on CIFAR-10 (docs/fidelity.md).
    space_file = write_space(tmp_path, trials=4, reevaluate={"top": 2, "seeds": 2, "rounds": 1},
                             train={**TRAIN, "epochs": 3, "stop_after": 1}, objectives=["train_acc", "params"])
    exp = tmp_path / "exp"
    summary = run_search(load_space(space_file), exp, Resources(cpus_per_trial=1))
    trained = [r for r in rows(exp) if r["status"] in ("ok", "reeval")]
    assert trained and {r["epochs"] for r in trained} == {1} and {r.get("outcome", "ok") for r in trained} == {"ok"}
    assert all(0 < r["train_acc"] <= 1 for r in trained)
    extra = [r for r in rows(exp) if r["status"] == "reeval"]
    # the top 2 and both baselines (which may be among them), one more seed each
    assert summary["reevaluated"] == len(extra) and 2 <= len(extra) <= 4
    assert {r["seed"] for r in extra} == {1}
    assert all(r["outcome"] == "ok" and r["spec"] and r["reeval_of"] for r in extra)
    assert len([r for r in rows(exp) if r["status"] == "ok"]) <= 4  # the budget counts candidates only

    doc = export_experiment(exp, log=print)
    assert doc["noise"]["seed_std"] is not None and doc["noise"]["nets"] == len(extra)
    assert doc["score"] == "train_acc" and doc["noise"]["unit"].startswith("train_acc")
    again = {r["arch_id"]: r["train_acc"] for r in extra}
    for e in doc["front"]:
        assert e["score"] == "train_acc" and "val_acc" not in e
        assert e["n_seeds"] == (2 if e["arch_id"] in again else 1)
        assert len(e["train_acc_seeds"]) == e["n_seeds"]
        assert e["train_acc"] == pytest.approx(sum(e["train_acc_seeds"]) / e["n_seeds"])
        assert e["arch_id"] not in again or again[e["arch_id"]] in e["train_acc_seeds"]
        assert set(e["vs"]) <= {"plain", "paper"} and "within_noise_of" in e
    out = capsys.readouterr().out
    assert "Seed noise: train_acc moves by sd" in out and "(n=2)" in out and "| # | arch_id | train_acc |" in out
    # while the trials ran, their time to go counted the re-evaluation after them: the top 2 and 2 baselines
    assert "search ~0s to go, then re-evaluation: up to 4 trainings, ~" in out
    assert (exp / "pareto.csv").read_text().startswith("rank,arch_id,trial_id,train_acc,train_acc_std,n_seeds")

    # A re-evaluation lost with the driver is trained on --resume, and only it.
    lost = extra[-1]
    journal = exp / "trials.jsonl"
    kept = [line for line in journal.read_text().splitlines() if json.loads(line).get("trial_id") != lost["trial_id"]]
    journal.write_text("\n".join(kept) + "\n")
    summary = run_search(load_space(space_file), exp, Resources(cpus_per_trial=1), resume=True)
    assert summary["reevaluated"] == 1  # the round planned in reeval.json, not a new ranking's pick
    assert [r["arch_id"] for r in rows(exp) if r["status"] == "reeval"][-1] == lost["arch_id"]
    summary = run_search(load_space(space_file), exp, Resources(cpus_per_trial=1), resume=True)
    assert summary["reevaluated"] == 0  # nothing left to do


def test_an_experiment_from_before_reevaluate_resumes_without_it(tmp_path, capsys, ray_session):
    space_file = write_space(tmp_path, trials=2)
    exp = tmp_path / "exp"
    run_search(load_space(space_file), exp, Resources(cpus_per_trial=1))
    base = yaml.safe_load(space_file.read_text())
    del base["reevaluate"]  # the space file now asks for the default (on) ...
    space_file.write_text(yaml.safe_dump(base))
    summary = run_search(load_space(space_file), exp, Resources(cpus_per_trial=1), resume=True)
    assert summary["reevaluated"] == 0  # ... but the experiment began without it
    assert "began before `reevaluate:` existed" in capsys.readouterr().out
