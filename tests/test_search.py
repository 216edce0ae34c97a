"""A real Ray Tune + Optuna search of tiny trials on digits, on the CPU."""
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml

from nas.run.driver import Resources, run_search
from nas.run.trainable import FAULT_ENV
from nas.space.codec import decode
from nas.space.parse import load_space
from sharesnet import ArchSpec

ROOT = Path(__file__).resolve().parents[1]
BASE = {"spec": {"stem_width": 8, "stages": [{"depth": 2, "width": 8, "stride": 1},
                                             {"depth": 2, "width": 16, "stride": 2}]}}
TRAIN = {"recipe": "fast", "epochs": 1, "warmup_epochs": 0, "batch_size": 64}


def write_space(tmp_path: Path, **over) -> Path:
    space = {"name": "tiny", "data": {"dataset": "digits", "limit": 400, "val_fraction": 0.2},
             "base": BASE, "vary": {"sharing": {"positions": ["conv2"], "patterns": ["none", "stage"]}},
             "train": TRAIN, "objectives": ["val_acc", "params"], "sampler": {"name": "random", "seed": 0},
             "trials": 4, "warm_start": ["plain", "paper"], "reevaluate": False} | over
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(space))
    return path


def rows(exp: Path) -> list[dict]:
    return [json.loads(line) for line in (exp / "trials.jsonl").read_text().splitlines()]


def test_search_dedup_constraints_failures(tmp_path, ray_session, monkeypatch):
    # Four architectures exist (conv2 of each stage shared or not); the plain one is over
    # budget, one is made to diverge, and a 4th training cannot be found: the searcher
    # reuses duplicates until it declares the space exhausted.
    space_file = write_space(tmp_path, constraints={"max_params": 10_500})
    space = load_space(space_file)
    both = decode(_Fixed({"s1.conv2.share": "stage", "s2.conv2.share": "stage"}), space)
    monkeypatch.setenv(FAULT_ENV, f"diverge:{both.arch_id}")
    plain_params = 10_500  # sanity: the plain net really is over the budget
    exp = tmp_path / "exp"
    summary = run_search(space, exp, Resources(cpus_per_trial=1), log=lambda m: None)

    r = rows(exp)
    status = [x["status"] for x in r]
    assert summary["trained"] == 3
    assert any(x["status"] == "rejected" and x["warm_start"] == "plain" and x["params"] > plain_params for x in r)
    failed = [x for x in r if x["status"] == "failed" and not x["reused_from"]]
    assert len(failed) == 1 and failed[0]["arch_id"] == both.arch_id and "diverged" in failed[0]["reason"]
    assert failed[0]["node"] and failed[0]["device"] == "cpu", "a failed training says where it failed"
    ok = [x for x in r if x["status"] == "ok" and not x["reused_from"]]
    assert len(ok) == 2 and len({x["key"] for x in ok}) == 2 and all(0 < x["val_acc"] <= 1 for x in ok)
    assert all(x["device"] == "cpu" and x["gpu_ids"] == [] and x["node"] for x in ok)  # where each trained
    assert any(x["reused_from"] for x in r), "duplicates must be answered from earlier results"
    assert "rejected" in status and len(r) > 4

    with (exp / "trials.csv").open() as f:
        table = list(csv.DictReader(f))
    assert len(table) == len(r) and {"trial_id", "arch_id", "spec", "params", "flops", "val_acc", "status",
                                     "reason", "epochs", "wall_time_s"} <= set(table[0])
    study = optuna.load_study(study_name="sharesnet-nas", storage=f"sqlite:///{exp / 'optuna.db'}")
    states = [t.state for t in study.trials]
    # Failed trainings, and repeats: a repeat is closed as FAIL so the sampler proposes anew.
    assert states.count(optuna.trial.TrialState.FAIL) == status.count("failed") + status.count("repeat")
    assert status.count("repeat") and all(x["reused_from"] for x in r if x["status"] == "repeat")
    assert len({t.user_attrs["arch_id"] for t in study.trials if t.state.name == "COMPLETE"}) == \
        sum(1 for t in study.trials if t.state.name == "COMPLETE"), "no architecture takes two sampler slots"
    assert optuna.trial.TrialState.RUNNING not in states
    infeasible = [t for t in study.trials if t.state.name == "COMPLETE" and t.constraints.get("params", 0) > 0]
    assert infeasible, "over-budget candidates are told to Optuna as infeasible"
    # Every result row rebuilds its architecture from the spec it carries.
    assert all(ArchSpec.from_dict(x["spec"]).arch_id == x["arch_id"] for x in r if "spec" in x)


class _Fixed:
    def __init__(self, p):
        self.p = p

    def suggest_categorical(self, name, choices):
        return self.p[name]


def test_resume_after_killed_driver(tmp_path):
    space_file = write_space(tmp_path, trials=5, vary={"depth": [1, 2], "sharing": {
        "positions": ["conv1", "conv2"], "patterns": ["none", "stage", "cycle"], "k": [2]}},
        train=TRAIN | {"epochs": 2})
    cmd = [sys.executable, str(ROOT / "scripts/search.py"), "--space", str(space_file), "--out", str(tmp_path),
           "--name", "exp"]
    exp = tmp_path / "exp"
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and _trained(exp) < 2:
            time.sleep(0.5)
        assert _trained(exp) >= 2, "the first run never finished two trainings"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and its Ray processes die at once
        proc.wait()
    before = rows(exp)
    assert _trained(exp) < 5

    out = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=400)
    assert out.returncode == 0, out.stderr[-3000:]
    after = rows(exp)
    assert after[: len(before)] == before  # nothing already computed is lost
    trained = [x for x in after if x["status"] in ("ok", "failed") and not x.get("reused_from")]
    assert len(trained) == 5
    assert len({x["key"] for x in trained}) == 5, "no architecture is trained twice"
    assert "resuming" in out.stdout and (exp / "pareto.yaml").is_file()
    study = optuna.load_study(study_name="sharesnet-nas", storage=f"sqlite:///{exp / 'optuna.db'}")
    assert optuna.trial.TrialState.RUNNING not in [t.state for t in study.trials]


def _trained(exp: Path) -> int:
    path = exp / "trials.jsonl"
    if not path.exists():
        return 0
    return sum(1 for x in rows(exp) if x["status"] in ("ok", "failed") and not x.get("reused_from"))


def test_an_experiment_from_before_the_sampler_options_resumes_as_it_began(tmp_path):
    # Its space.yaml has no sampler.encoding / sampler.repeats: resuming it with the new
    # defaults would change how its Optuna study is told repeats, so it goes on as it started.
    from nas.run.driver import _prepare_folder

    space = load_space(write_space(tmp_path))
    exp = tmp_path / "exp"
    assert _prepare_folder(space, exp, resume=False, log=print).sampler.repeats == "resample"
    old = yaml.safe_load((exp / "space.yaml").read_text())
    for key in ("encoding", "repeats"):
        del old["resolved"]["sampler"][key]
    (exp / "space.yaml").write_text(yaml.safe_dump(old))
    said = []
    resumed = _prepare_folder(space, exp, resume=True, log=said.append)
    assert (resumed.sampler.encoding, resumed.sampler.repeats) == ("conditional", "reuse")
    assert "goes on with encoding: conditional, repeats: reuse" in said[0]
    with pytest.raises(Exception, match="search space changed"):  # other changes are still refused
        _prepare_folder(load_space(write_space(tmp_path, trials=4, sampler={"name": "tpe"})), exp, True, print)


def test_existing_experiment_needs_resume(tmp_path):
    space_file = write_space(tmp_path)
    exp = tmp_path / "exp"
    exp.mkdir()
    (exp / "space.yaml").write_text("resolved: {}\n")
    out = subprocess.run([sys.executable, str(ROOT / "scripts/search.py"), "--space", str(space_file),
                          "--out", str(tmp_path), "--name", "exp"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "pass --resume" in out.stderr and "Traceback" not in out.stderr


def test_asha_early_stopping_marks_and_excludes(tmp_path, ray_session):
    # Per-epoch reports reach ASHA; whatever it stops is `early_stopped`, told to Optuna as
    # pruned and kept out of the front.
    space = load_space(write_space(tmp_path, trials=4, train=TRAIN | {"epochs": 3},
                                   early_stopping={"grace_epochs": 1, "reduction_factor": 2},
                                   vary={"depth": [1, 2], "sharing": {"positions": ["conv2"],
                                                                      "patterns": ["none", "stage"]}}))
    exp = tmp_path / "exp"
    run_search(space, exp, Resources(cpus_per_trial=1, max_concurrent=1), log=lambda m: None)
    r = [x for x in rows(exp) if not x.get("reused_from")]
    assert {x["status"] for x in r} <= {"ok", "early_stopped"}
    for x in r:
        assert x["epochs"] == 3 if x["status"] == "ok" else x["epochs"] < 3
    progress = list((exp / "ray").glob("run-1/trial_*/progress.csv"))
    assert any(len(p.read_text().splitlines()) > 2 for p in progress), "trials report every epoch under ASHA"
    from nas.report.export import export_experiment

    front = export_experiment(exp, log=lambda m: None)["front"]
    stopped = {x["arch_id"] for x in r if x["status"] == "early_stopped"}
    assert front and not stopped & {e["arch_id"] for e in front}
    study = optuna.load_study(study_name="sharesnet-nas", storage=f"sqlite:///{exp / 'optuna.db'}")
    assert sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials) == len(stopped)


def test_classify():
    from nas.search.searcher import classify

    assert classify({"status": "ok", "epoch": 3}, False, 3) == ("ok", "")
    assert classify({"status": "failed", "reason": "diverged: x"}, False, 3) == ("failed", "diverged: x")
    assert classify({"status": "running", "epoch": 1}, False, 3)[0] == "early_stopped"
    assert classify(None, True, 3)[0] == "error"


def test_missing_dataset_is_one_clear_message(tmp_path):
    space_file = write_space(tmp_path, data={"dataset": "cifar10", "data_dir": str(tmp_path / "nothing")})
    out = subprocess.run([sys.executable, str(ROOT / "scripts/search.py"), "--space", str(space_file),
                          "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert str(tmp_path / "nothing") in out.stderr and "--data-dir" in out.stderr
    assert not (tmp_path / "tiny").exists(), "nothing is created for a search that cannot start"


def test_ctrl_c_reports_it_and_resume_finishes_the_cut_off_trainings(tmp_path):
    # Two warm starts (plain, paper) train first, one per slot, long enough to be caught
    # mid-run. Ctrl-C (SIGINT to the process group, as a terminal sends it) must exit 130,
    # say so, export what it has and print the resume command; --resume must train both
    # warm starts to the end from their checkpoints, under their own Optuna parameters.
    base = {"spec": {"stem_width": 8, "stages": [{"depth": 3, "width": 8, "stride": 1},
                                                 {"depth": 3, "width": 16, "stride": 2}]}}
    vary = {"sharing": {"positions": ["conv1", "conv2"], "patterns": ["none", "stage", "ranges"]}}
    space_file = write_space(tmp_path, base=base, vary=vary, trials=3, train=TRAIN | {"epochs": 60})
    cmd = [sys.executable, str(ROOT / "scripts/search.py"), "--space", str(space_file), "--out", str(tmp_path),
           "--name", "exp"]
    exp = tmp_path / "exp"
    code, out = _stop_mid_training(cmd, exp, checkpoints=2, stop=lambda p: os.killpg(p.pid, signal.SIGINT))
    assert code == 130, out[-3000:]
    assert "SIGINT received: stopping" in out and "INTERRUPTED" in out and "the front above is partial" in out
    assert " ".join(cmd[1:]) + " --resume" in out.replace("'", "")  # the exact command to continue
    cut = {x["arch_id"]: x for x in rows(exp) if x["status"] == "interrupted"}
    assert {x["warm_start"] for x in cut.values()} >= {"plain", "paper"}, cut
    assert all(x["checkpoint_epoch"] for x in cut.values() if x["warm_start"])
    study = optuna.load_study(study_name="sharesnet-nas", storage=f"sqlite:///{exp / 'optuna.db'}")
    running = {t.number: t.params for t in study.trials if t.state == optuna.trial.TrialState.RUNNING}
    assert {x["number"] for x in cut.values()} <= set(running)

    again = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=400)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    resuming = next(line for line in again.stdout.splitlines() if "cut-off training(s) continue first: " in line)
    for arch_id, x in cut.items():  # each says whether it has a checkpoint to go on from
        said = "from its checkpoint at epoch " if x["checkpoint_epoch"] else "from the start (no checkpoint was saved)"
        assert f"{arch_id} {said}" in resuming, resuming
    assert "from their checkpoints" not in resuming
    done = {x["arch_id"]: x for x in rows(exp) if x["status"] == "ok" and not x.get("reused_from")}
    for arch_id, x in cut.items():
        if not x["warm_start"]:
            continue
        assert arch_id in done, f"the cut-off {x['warm_start']} warm start was abandoned"
        assert done[arch_id]["resumed_at_epoch"] >= x["checkpoint_epoch"] >= 1  # from its checkpoint
        assert done[arch_id]["warm_start"] == x["warm_start"] and done[arch_id]["continues"] == x["number"]
        assert done[arch_id]["epochs"] == 60
    study = optuna.load_study(study_name="sharesnet-nas", storage=f"sqlite:///{exp / 'optuna.db'}")
    by_number = {t.number: t for t in study.trials}
    for x in cut.values():
        if x["warm_start"]:
            follow = by_number[done[x["arch_id"]]["number"]]
            assert follow.params == running[x["number"]] and follow.state == optuna.trial.TrialState.COMPLETE
    assert "paper's ShaResNet was not evaluated" not in again.stdout


def _stop_mid_training(cmd: list[str], exp: Path, checkpoints: int, stop) -> tuple[int, str]:
    """Start a search, wait until `checkpoints` trainings saved epoch 2+, `stop` it; (exit code, output)."""
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and len(_checkpointed(exp)) < checkpoints:
            time.sleep(0.3)
        assert len(_checkpointed(exp)) >= checkpoints, "the trainings never saved a checkpoint"
        stop(proc)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    return proc.returncode, out


def _checkpointed(exp: Path) -> list[Path]:
    from sharesnet.train.checkpoint import saved_epoch

    return [p for p in exp.glob("checkpoints/*/last.pt") if (saved_epoch(p) or 0) >= 2]


def test_long_trials_show_epoch_progress_with_speed_and_eta(tmp_path, ray_session, monkeypatch):
    # A CIFAR trial runs for minutes: the search must show its epochs, images/s and an ETA.
    import nas.run.driver

    monkeypatch.setattr(nas.run.driver, "PROGRESS_EVERY_S", 0.0)  # every epoch counts as "long" here
    space = load_space(write_space(tmp_path, trials=2, warm_start=[], train=TRAIN | {"epochs": 3}))
    lines = []
    run_search(space, tmp_path / "exp", Resources(cpus_per_trial=1), log=lines.append)
    epochs = [line for line in lines if " epoch 2/3 val_acc " in line]
    assert len(epochs) == 2 and all(" img/s, this trial ~" in line and " to go | " in line for line in epochs), lines
    done = [line for line in lines if " trained, " in line]
    assert done and "search ~" in done[0] and done[-1].endswith("search ~0s to go")  # no re-evaluation to add


def test_sigterm_stops_cleanly_with_143(tmp_path):
    # Batch schedulers stop jobs with SIGTERM, to the driver alone: the same clean stop as
    # Ctrl-C (ray.init must not swap in its own handler), reported with exit code 143.
    space_file = write_space(tmp_path, trials=3, train=TRAIN | {"epochs": 150})
    cmd = [sys.executable, str(ROOT / "scripts/search.py"), "--space", str(space_file), "--out", str(tmp_path),
           "--name", "exp"]
    code, out = _stop_mid_training(cmd, tmp_path / "exp", checkpoints=1,
                                   stop=lambda p: p.send_signal(signal.SIGTERM))  # the driver alone
    assert code == 143, out[-3000:]
    assert "SIGTERM received: stopping" in out and "INTERRUPTED" in out and "--resume" in out
    assert any(x["status"] == "interrupted" for x in rows(tmp_path / "exp"))


def _most_at_once(exp: Path) -> int:
    """The most trainings that ran at the same time, from each row's end time and wall time."""
    spans = [(x["time"] - x["wall_time_s"], x["time"]) for x in rows(exp) if x["status"] == "ok"]
    return max(sum(1 for a, b in spans if a <= t < b) for t, _ in spans)


def test_fractional_cpus_per_trial_fill_every_slot(tmp_path, ray_session):
    # --cpus-per-trial 0.5 on 2 cores announced 4 trial slots where 2 ran: Ray Tune started one
    # trial at a time, and short trials ended before the next had started.
    space = load_space(write_space(tmp_path, trials=4, warm_start=[], train=TRAIN | {"epochs": 4},
                                   vary={"sharing": {"positions": ["conv1", "conv2"], "patterns": ["none", "stage"]}}))
    lines = []
    summary = run_search(space, tmp_path / "exp", Resources(cpus_per_trial=0.5), log=lines.append)
    assert summary["slots"] == 4 and summary["trained"] == 4
    assert _most_at_once(tmp_path / "exp") == 4, [x.get("wall_time_s") for x in rows(tmp_path / "exp")]
    running = [int(line.split(" running,")[0].rsplit(" ", 1)[1]) for line in lines if " running, " in line]
    assert running and max(running) <= 4  # never more "running" than slots: none is asked for before a slot is free


def test_an_experiment_from_before_the_resolved_stage_choices_still_resumes(tmp_path):
    # space.yaml now shows each stage's depth and width choices; one written before must still resume,
    # and a changed choice must still be refused.
    from nas.run.driver import _prepare_folder
    from nas.space.config import RESOLVED_LATER

    space = load_space(write_space(tmp_path, vary={"depth": [1, 2]}))
    exp = tmp_path / "exp"
    _prepare_folder(space, exp, resume=False, log=lambda m: None)
    saved = yaml.safe_load((exp / "space.yaml").read_text())
    assert saved["resolved"]["depth"] == [[1, 2], [1, 2]]
    for key in RESOLVED_LATER:  # as an older version wrote it
        del saved["resolved"][key]
    (exp / "space.yaml").write_text(yaml.safe_dump(saved))
    assert _prepare_folder(space, exp, resume=True, log=lambda m: None) == space
    other = load_space(write_space(tmp_path, vary={"depth": [1, 3]}))
    _prepare_folder(space, tmp_path / "new", resume=False, log=lambda m: None)
    with pytest.raises(Exception, match="the search space changed"):
        _prepare_folder(other, tmp_path / "new", resume=True, log=lambda m: None)
