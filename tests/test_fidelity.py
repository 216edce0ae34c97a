"""The fidelity tool: rank statistics, plans, matched nets, the cached runner, resume and the report."""
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nas.bench.fidelity import find_final, plan_tasks
from nas.bench.fidelity_plan import load_plan, parse_plan
from nas.report import rankstats
from nas.space.matched import matched_plain
from nas.space.problems import SpaceError
from sharesnet.registry import get_spec

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts/fidelity.py"
LAST = re.compile(r"^proxy=\S+ kendall_tau=-?[\d.]+ spearman=-?[\d.]+ seed_std=[\d.]+ cost_ratio=[\d.]+$")


# --- rank statistics, against hand-computed values ---------------------------------------

def test_pooled_sd_weights_groups_by_their_degrees_of_freedom():
    # variances: [1,3] -> 2 (1 df); [2,4,6] -> 4 (2 df); [5] has none. Pooled: (2 + 8) / 3.
    s = rankstats.pooled_sd([[1, 3], [2, 4, 6], [5]])
    assert s.df == 3
    assert s.sd == pytest.approx(math.sqrt(10 / 3))
    assert rankstats.pooled_sd([[1], [2]]) is None


def test_rank_correlations_and_top_k():
    truth = [0.1, 0.2, 0.3, 0.4, 0.5]
    assert rankstats.kendall_tau([1, 2, 3, 4, 5], truth) == pytest.approx(1.0)
    assert rankstats.kendall_tau([5, 4, 3, 2, 1], truth) == pytest.approx(-1.0)
    # one swapped pair of 10: tau = (9 - 1) / 10
    assert rankstats.kendall_tau([2, 1, 3, 4, 5], truth) == pytest.approx(0.8)
    # d = (1, -1, 0, 0, 0): rho = 1 - 6 * 2 / (5 * 24)
    assert rankstats.spearman([2, 1, 3, 4, 5], truth) == pytest.approx(0.9)
    assert rankstats.top_k_agreement([9, 8, 1, 2, 3], truth, 2) == 0.0
    assert rankstats.top_k_agreement([1, 2, 3, 9, 8], truth, 2) == 1.0
    assert rankstats.top_k_agreement([1, 2, 9, 3, 8], truth, 2) == 0.5
    assert math.isnan(rankstats.kendall_tau([1], [1]))


def test_distinguishable_uses_the_t_interval():
    s = rankstats.Spread(sd=0.01, df=4)
    # t(0.975, 4) = 2.776; half-width for 2 vs 2: 2.776 * 0.01 * 1 = 0.0278
    assert rankstats.half_width(s, 2, 2) == pytest.approx(0.02776, abs=1e-4)
    assert rankstats.distinguishable(0.80, 2, 0.77, 2, s) is True
    assert rankstats.distinguishable(0.80, 2, 0.78, 2, s) is False
    assert rankstats.distinguishable(0.80, 2, 0.70, 2, None) is None


# --- matched-size plain nets ---------------------------------------------------------------

def test_matched_plain_nets_are_unshared_and_closest_in_params():
    from sharesnet import build_model, count_params

    base = get_spec("cifar_resnet32")
    shallow = matched_plain(base, 267_930, "shallower")
    assert shallow.arch_id == get_spec("cifar_resnet20").arch_id  # ResNet-20 (270k) is the closest depth
    narrow = matched_plain(base, 147_994, "narrower")
    assert [st.depth for st in narrow.stages] == [5, 5, 5]
    assert narrow.sharing_summary() == "none"
    assert abs(count_params(build_model(narrow)) - 147_994) < 2_000
    with pytest.raises(ValueError, match="shallower, narrower"):
        matched_plain(base, 1000, "thinner")


# --- plans ---------------------------------------------------------------------------------

def _space(tmp_path: Path, epochs: int = 2) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(f"""
name: tiny
data: {{dataset: digits, val_fraction: 0.25, split_seed: 0, limit: 240}}
base: {{preset: cifar_resnet20}}
train: {{recipe: fast, epochs: {epochs}, batch_size: 64}}
""")
    return path


def _plan(tmp_path: Path, **extra) -> Path:
    body = {"space": str(_space(tmp_path)), "seeds": 2,
            "proxies": {"today": {}, "short": {"epochs": 1}, "mean2": {"average": 2, "seeds": 1}},
            "archs": {"baselines": ["plain", "paper"], "sizes": [80000]},
            "final": {"recipe": "fast", "epochs": 2, "seeds": 2}} | extra
    path = tmp_path / "plan.yaml"
    path.write_text(json.dumps(body))
    return path


def test_plan_errors_name_the_key_and_the_fix(tmp_path):
    space = str(_space(tmp_path))
    with pytest.raises(SpaceError) as e:
        parse_plan({"space": space, "proxies": {"a": {"epoch": 3}, "b": {"limit": -1}}, "seedz": 2}, "p.yaml")
    text = str(e.value)
    assert "p.yaml: proxies.a.epoch: unknown key; did you mean 'epochs'?" in text
    assert "p.yaml: proxies.b.limit: expected a positive integer or null, got -1" in text
    assert "p.yaml: seedz: unknown key" in text
    with pytest.raises(SpaceError, match="space: required"):
        parse_plan({"proxies": {"a": {}}}, "p.yaml")
    with pytest.raises(SpaceError, match="rank statistics need at least 3"):
        parse_plan({"space": space, "proxies": {"a": {}}, "archs": {"baselines": ["plain"]}}, "p.yaml")


def test_proxies_that_train_alike_share_their_runs(tmp_path):
    plan = load_plan(_plan(tmp_path))
    tasks = plan_tasks(plan, tmp_path / "out")
    proxy = [t for t in tasks if t.kind == "proxy"]
    # today: seeds 0, 1; short: seeds 0, 1; mean2 (seeds 0+1) is today's runs: 4 per net, 3 nets
    assert len(proxy) == 12
    assert {t.proxy.name for t in proxy} == {"today", "short"}
    assert sum(t.kind == "final" for t in tasks) == 6
    # each net's first final, then the proxies seed-major, then the other finals
    kinds = [(t.kind, t.seed) for t in tasks]
    assert kinds[:3] == [("final", 0)] * 3
    assert kinds[-3:] == [("final", 1)] * 3
    proxy_seeds = [t.seed for t in proxy]
    assert proxy_seeds == sorted(proxy_seeds)
    # --proxy: one proxy's runs only, even those it shares with another (mean2 scores today's)
    mean2 = plan_tasks(plan, tmp_path / "out", ("mean2",))
    assert [(t.kind, t.seed) for t in mean2] == [("proxy", 0)] * 3 + [("proxy", 1)] * 3
    assert {t.identity() for t in mean2} == {t.identity() for t in proxy if t.proxy.name == "today"}
    with pytest.raises(ValueError, match="--proxy gentle: the plan has no such proxy; its proxies: today, short, mean2"):
        plan_tasks(plan, tmp_path / "out", ("gentle",))


def test_a_prefix_proxy_trains_the_start_of_its_schedule_and_is_cached_apart(tmp_path):
    from nas.bench.fidelity import Runner
    from nas.bench.fidelity_report import collect, describe, find_run, index_runs

    with pytest.raises(SpaceError, match=r"p.yaml: proxies.p: recipe.stop_after: must be an epoch of the 2-epoch"):
        parse_plan({"space": str(_space(tmp_path)), "proxies": {"p": {"stop_after": 3}}}, "p.yaml")
    with pytest.raises(SpaceError, match=r"p.yaml: proxies.p.score: expected one of val_acc, train_acc, got 'loss'"):
        parse_plan({"space": str(_space(tmp_path)), "proxies": {"p": {"score": "loss"}}}, "p.yaml")
    plan = load_plan(_plan(tmp_path, seeds=1, proxies={"today": {}, "first": {"stop_after": 1},
                                                      "first-train": {"stop_after": 1, "score": "train_acc"}}))
    first = plan.proxies[1]
    assert describe(first).startswith("first 1 of 2 ep x 240 img")
    assert describe(plan.proxies[2]).endswith(", score: train acc")
    tasks = [t for t in plan_tasks(plan, tmp_path / "out") if t.kind == "proxy"]
    assert len(tasks) == 6  # the prefix is a run of its own, not today's; scored by train_acc, the same run
    mine = [t for t in tasks if t.arch == plan.archs[0]]
    Runner(plan, tmp_path / "out", "cpu", log=lambda _: None).run(mine)
    runs = index_runs(tmp_path / "out" / "runs")
    today, prefix = (find_run(runs, t, None) for t in mine)
    assert len(runs) == 2 and today["epochs"] == 2 and prefix["epochs"] == 1 and prefix["recipe"]["stop_after"] == 1
    assert prefix["val_history"] == today["val_history"][:1]  # the same first epoch, lr and all
    assert prefix["images"] * 2 == today["images"] and len(prefix["train_history"]) == 1
    c = collect(plan, tmp_path / "out", None)
    a = plan.archs[0].spec.arch_id
    assert c.scores["first"][a] == [prefix["val_acc"]] and c.scores["first-train"][a] == [prefix["train_history"][0]]


def test_a_final_result_is_reused_only_when_its_recipe_and_data_match(tmp_path):
    plan = load_plan(_plan(tmp_path))
    arch = plan.archs[0]
    folder = tmp_path / "old" / arch.spec.arch_id / "seed-0"
    folder.mkdir(parents=True)
    row = {"arch_id": arch.spec.arch_id, "seed": 0, "test_acc": 0.9, "epochs": 2, "train_images": 100,
           "recipe": plan.final.recipe_for(0).to_dict(), "test_limit": None,
           "data": {"dataset": "digits", "val_fraction": 0.25, "split_seed": 0, "limit": None, "data_dir": "/x"}}
    (folder / "result.json").write_text(json.dumps(row))
    plan = load_plan(_plan(tmp_path, final={"recipe": "fast", "epochs": 2, "seeds": 2, "reuse": [str(tmp_path / "old")]}))
    assert find_final(plan, arch, 0, tmp_path / "out")["test_acc"] == 0.9
    assert find_final(plan, arch, 1, tmp_path / "out") is None  # no seed 1 there
    row["recipe"]["epochs"] = 3
    (folder / "result.json").write_text(json.dumps(row))
    assert find_final(plan, arch, 0, tmp_path / "out") is None


# --- the command: run, report, partial, interrupt and resume ---------------------------------

def _cli(*args, timeout=600):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout, env=env)


def test_interrupted_run_says_so_and_resume_finishes_with_a_report(tmp_path):
    plan, out = _plan(tmp_path), tmp_path / "out"
    partial = _cli("--plan", plan, "--out", out, "--report", "--threads", "1")
    assert partial.returncode == 3, partial.stderr
    assert "PARTIAL: " in partial.stderr and "--resume" in partial.stderr

    proc = subprocess.Popen([sys.executable, str(SCRIPT), "--plan", str(plan), "--out", str(out), "--threads", "1"],
                            cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 240
    while len(list((out / "runs").glob("*.json"))) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "INTERRUPTED" in stderr and "--resume" in stderr and "Traceback" not in stderr
    kept = len(list((out / "runs").glob("*.json")))

    again = _cli("--plan", plan, "--out", out, "--threads", "1")
    assert again.returncode == 2 and "pass --resume" in again.stderr

    # --only proxies fills a short window: every proxy run, no final, and the report says PARTIAL
    proxies = _cli("--plan", plan, "--out", out, "--threads", "1", "--resume", "--only", "proxies")
    assert proxies.returncode == 3 and "PARTIAL" in proxies.stderr, proxies.stderr[-3000:]
    assert proxies.stdout.count("(cached)") >= kept  # nothing finished was trained again
    assert len(list((out / "runs").glob("*.json"))) == 12
    assert not list((out / "final").glob("*/seed-1/result.json"))  # the second finals come last: none yet

    done = _cli("--plan", plan, "--out", out, "--threads", "1", "--resume")
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(list((out / "final").glob("*/seed-1/result.json"))) == 3
    assert LAST.match(done.stdout.strip().splitlines()[-1]), done.stdout[-500:]
    report = (out / "fidelity.md").read_text()
    assert "| today |" in report and "| mean2 |" in report and "PARTIAL" not in report
    assert re.search(r"\|\n\n`proxy=\S+ kendall_tau=[^`]+`\n", report)  # apart from the table, not a row of it
    # the finals' own curves: every net has two finals of 2 epochs, so each epoch is scored over all 3 nets
    assert "### The finals' own curves" in report
    figure = r"(-?\d\.\d\d|n/a)"  # n/a: tied accuracies of nets this tiny
    assert re.search(rf"\| train acc after epoch 2 \| 1\.000 \| 3 \| {figure} \| {figure} \|", report), report[-1500:]
    # one machine made every run: its precision is counted, and nothing says the runs are mixed
    assert re.search(r"Precision: proxy runs (bf16|fp32) 12; finals (bf16|fp32) 6\.", report), report[:800]
    assert "MIXED" not in report
    assert (out / "fidelity.png").stat().st_size > 10_000
    run = json.loads(next((out / "runs").glob("*.json")).read_text())
    assert run["threads"] == 1 and run["spec"] and run["recipe"]["seed"] in (0, 1)  # rebuildable

    cached = _cli("--plan", plan, "--out", out, "--threads", "1", "--resume")
    assert cached.returncode == 0 and " in " not in "".join(
        line for line in cached.stdout.splitlines() if line.startswith("[fidelity] ") and "/18 " in line)


def test_the_finals_curve_scores_each_seed_against_the_other_seeds_finals():
    from nas.bench.fidelity_curve import Run, curve, markdown

    # epoch 1 ranks the nets backwards, epoch 2 as the other seed's finals do; net "d" has one
    # final and is left out; "c" stopped after epoch 1 (a cut-off run) and drops out of epoch 2.
    runs = {"a": {0: Run(0.80, (0.50, 0.60)), 1: Run(0.81, (0.52, 0.61))},
            "b": {0: Run(0.84, (0.40, 0.70)), 1: Run(0.83, (0.41, 0.71))},
            "c": {0: Run(0.90, (0.30,)), 1: Run(0.91, (0.31,))},
            "e": {0: Run(0.86, (0.35, 0.75)), 1: Run(0.85, (0.36, 0.76))},
            "d": {0: Run(0.99, (0.99, 0.99))}}
    first, second, ceiling = curve(runs, 2)
    assert (first.epoch, first.nets, first.kendall_tau, first.spearman) == (1, 4, -1.0, -1.0)
    assert (second.epoch, second.nets, second.kendall_tau) == (2, 3, 1.0)
    # by test accuracy both seeds order a < b < e < c: full agreement
    assert ceiling.epoch is None and ceiling.nets == 4 and ceiling.kendall_tau == 1.0
    text = markdown([first, second, ceiling], 2)
    assert "| train acc after epoch 1 | 0.500 | 4 | -1.00 | -1.00 |" in text
    assert "| test acc (the noise ceiling) | 1.000 | 4 | 1.00 | 1.00 |" in text
    assert markdown(curve({"a": runs["a"], "b": runs["b"]}, 2), 2) == ""  # under 3 nets: no section


def test_the_report_says_when_runs_from_two_kinds_of_machine_are_mixed():
    from collections import Counter

    from nas.bench.fidelity_report import Collected, precision_text

    c = Collected({}, {}, {}, [], {1}, 0)
    c.precisions["proxy runs"].update({"bf16": 18, "fp32": 9})
    c.precisions["finals"].update(["bf16"] * 10 + ["fp32"])
    text = precision_text(c)
    assert text.startswith("Precision: proxy runs bf16 18, fp32 9; finals bf16 10, fp32 1. MIXED:")
    one = Collected({}, {}, {}, [], {1}, 0)
    one.precisions["finals"] = Counter(fp32=2)
    assert precision_text(one) == "Precision: finals fp32 2."


def test_help_and_bad_out(tmp_path):
    assert "Examples:" in _cli("--help").stdout
    (tmp_path / "file").write_text("")
    bad = _cli("--plan", _plan(tmp_path), "--out", tmp_path / "file")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--out" in bad.stderr
    for flags, says in ((["--proxy", "today", "--only", "finals"], "drop --only finals"),
                        (["--proxy", "nope"], "--proxy nope: the plan has no such proxy")):
        bad = _cli("--plan", _plan(tmp_path), "--out", tmp_path / "out", *flags)
        assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and says in bad.stderr, bad.stderr
