"""scripts/train_final.py says what it does: interrupts, GPUs, data limits, epochs, tables, errors.

Real training on scikit-learn digits (CPU); most runs call the command line in-process to
save a torch import per test, the signal and exit-code checks run it as a subprocess.
"""
import csv
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from nas.cli.final import final_main
from nas.retrain.results import accuracy_text
from nas.space.config import DataConfig
from sharesnet import build_model, count_flops
from sharesnet.spec import ArchSpec, StageSpec
from sharesnet.train.schedule import lr_factor
from tests.test_data import write_imagefolder

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts/train_final.py"
TINY = ArchSpec((StageSpec(1, 8, 1), StageSpec(1, 16, 2)), in_channels=1, num_classes=10, stem_width=8)
SEARCH_DATA = DataConfig(dataset="digits", limit=400, val_fraction=0.2)  # as tests/test_search.py's space


def write_pareto(tmp_path: Path) -> Path:
    """A pareto.yaml as a search on digits with limit 400 writes it: a plain and a paper-shared net."""
    wide = ArchSpec((StageSpec(2, 8, 1), StageSpec(2, 16, 2)), in_channels=1, num_classes=10, stem_width=8)
    paper = wide.with_masks({(0, 1): (0, 0), (1, 1): (0, 0)})
    front = [{"rank": 0, "arch_id": s.arch_id, "spec": s.to_dict(), "data": dataclasses.asdict(SEARCH_DATA),
              "warm_start": tag} for s, tag in ((TINY, None), (paper, "paper"))]
    path = tmp_path / "pareto.yaml"
    path.write_text(yaml.safe_dump({"front": front}))
    return path


def final(capsys, *args) -> tuple[int, str, str]:
    code = final_main([str(a) for a in args], "doc")
    out, err = capsys.readouterr()
    return code, out, err


def script(*args, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


# --- A. interrupts ----------------------------------------------------------------------

def _start_and_interrupt(out: Path, signum: int) -> tuple[subprocess.Popen, str, str]:
    """Start a long digits run, wait for its first checkpoint, then signal its process group."""
    args = ["--preset", "cifar_resnet20", "--dataset", "digits", "--recipe", "fast", "--epochs", "30",
            "--out", out]
    proc = subprocess.Popen([sys.executable, str(SCRIPT), *map(str, args)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    ckpt, deadline = out / "cifar_resnet20/seed-0/last.pt", time.monotonic() + 240
    while not ckpt.is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    os.killpg(proc.pid, signum)
    stdout, stderr = proc.communicate(timeout=120)
    return proc, stdout, stderr


def test_ctrl_c_reports_what_is_saved_exits_130_and_resume_continues(tmp_path):
    out = tmp_path / "final"
    proc, stdout, stderr = _start_and_interrupt(out, signal.SIGINT)
    assert proc.returncode == 130, stdout[-2000:] + stderr[-2000:]
    assert "INTERRUPTED by SIGINT: 0 of 1 job(s) finished" in stderr and "Traceback" not in stderr
    assert "cifar_resnet20 seed 0: cut off;" in stderr and "last.pt keeps epoch" in stderr
    assert "--resume" in stderr.splitlines()[-1] and "[final] done" not in stdout
    assert not (out / "cifar_resnet20/seed-0/result.json").exists()
    done = script("--preset", "cifar_resnet20", "--dataset", "digits", "--recipe", "fast", "--epochs", "30",
                  "--out", out, "--resume")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "resumed from" in done.stdout and "epoch 1/30" not in done.stdout and "epoch 30/30" in done.stdout
    with (out / "cifar_resnet20/seed-0/metrics.csv").open() as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == list(range(1, 31))


def test_sigterm_exits_143_with_the_same_report(tmp_path):
    proc, _, stderr = _start_and_interrupt(tmp_path / "final", signal.SIGTERM)
    assert proc.returncode == 143 and "INTERRUPTED by SIGTERM" in stderr and "continue with:" in stderr


# --- B. GPUs ---------------------------------------------------------------------------

@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without a GPU")
def test_jobs_train_in_parallel_on_the_cpu_as_they_would_one_after_another(tmp_path, capsys, ray_session):
    # --jobs 2: two Ray tasks at once, the cores split between them; each records its thread
    # count, and a job trains bit for bit as it does alone in this process at that count.
    from nas.retrain.jobs import cpu_cores

    args = ["--preset", "cifar_resnet20", "--smoke", "--epochs", "1", "--seeds", "2"]
    code, log, _ = final(capsys, *args, "--jobs", "2", "--out", tmp_path / "par")
    threads = cpu_cores() // 2
    assert code == 0 and f"2 jobs at a time on the CPU, {threads} thread(s) each (Ray)" in log
    assert "[final] 1/2 job(s) finished (cifar_resnet20 seed " in log and "[final] 2/2 job(s) finished" in log
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        assert final(capsys, *args, "--out", tmp_path / "seq")[0] == 0
    finally:
        torch.set_num_threads(old)
    for seed in (0, 1):
        par, seq = (json.loads((tmp_path / f / f"cifar_resnet20/seed-{seed}/result.json").read_text())
                    for f in ("par", "seq"))
        assert par["threads"] == seq["threads"] == threads
        assert par["test_acc"] == seq["test_acc"] and par["device"] == "cpu"


def test_the_run_counts_finished_jobs_and_times_only_those_it_trained(tmp_path):
    import re

    from nas.retrain.jobs import Job, _Tally
    from sharesnet.train import Recipe

    spec = ArchSpec(stages=(StageSpec(1, 8, 1),), in_channels=1, num_classes=10, stem_width=8)
    jobs = [Job("net", spec, DataConfig(dataset="digits"), Recipe(seed=k), tmp_path / f"seed-{k}") for k in range(4)]
    (tmp_path / "seed-0").mkdir()
    (tmp_path / "seed-0/result.json").write_text("{}")  # finished before this run
    lines = []
    tally = _Tally(jobs, 2, lines.append)
    for job in jobs:
        tally(job, {"test_acc": 0.5})
    assert lines[0] == "[final] 1/4 job(s) finished (net seed 0: test accuracy 0.5000)"
    assert "to go" not in lines[1]  # one trained job, two at once: its time would be twice the pace
    assert re.fullmatch(r"\[final\] 3/4 job\(s\) finished \(net seed 2: test accuracy 0\.5000\); about \S+ to go",
                        lines[2]), lines[2]
    assert lines[3].endswith("(net seed 3: test accuracy 0.5000)")  # nothing left: no time to go


def test_gpus_on_a_machine_without_cuda_is_refused_at_once(tmp_path):
    res = script("--preset", "cifar_resnet20", "--smoke", "--gpus", "8", "--out", tmp_path)
    assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
    assert "--gpus 8: no CUDA device is visible to torch" in res.stderr and "--gpus 0" in res.stderr
    assert not any(tmp_path.iterdir())  # nothing was trained


# --- C, E, H. data limits, accumulating tables, readable rows -----------------------------

def test_retraining_drops_the_search_limit_and_tables_accumulate(tmp_path, capsys, one_thread):
    pareto, out = write_pareto(tmp_path), tmp_path / "final"
    code, log, _ = final(capsys, "--pareto", pareto, "--recipe", "fast", "--epochs", "2", "--out", out)
    assert code == 0
    assert ("[final] data: digits: trains on 1,151 train + 287 val = 1,438 images, tests on 359 "
            "(no limit; the search used limit 400, pass --limit 400 to keep it)") in log
    epoch_line = next(line for line in log.splitlines() if "epoch 1/2" in line)
    assert "img/s" in epoch_line and "ETA" in epoch_line
    row = json.loads(next(out.glob("*/seed-0/result.json")).read_text())
    assert row["train_images"] == 1438 and row["test_images"] == 359 and row["data"]["limit"] is None

    # A second run, of another kind, into the same folder: both runs stay in the table.
    code, log, _ = final(capsys, "--preset", "cifar_resnet20", "--dataset", "digits", "--limit", "300",
                         "--test-limit", "100", "--recipe", "fast", "--epochs", "1", "--out", out)
    assert code == 0
    assert ("[final] data: digits: trains on 300 train + 143 val = 443 images, tests on 100 (limit 300 on train "
            "and on val; test capped at 100: a smoke check, not the test accuracy to report)") in log
    table = (out / "final_results.md").read_text()
    assert "| front #0 |" in table and "| front #1 (paper) |" in table and "| cifar_resnet20 |" in table
    assert "| 1-1 | 8-16 | none |" in table and "| 2-2 | 8-16 | s1.conv2=00 s2.conv2=00 |" in table
    assert "| 3-3-3 | 16-32-64 |" in table
    assert "fast, 2 epochs, batch 256 | digits |" in table and "digits (limit 300, test limit 100)" in table
    assert "(n=1)" in table and "± 0.0000" not in table
    with (out / "final_results.csv").open() as f:
        assert len(list(csv.DictReader(f))) == 3
    # The plot shows the latest configuration only (the smoke run here), one point per seed.
    png = out / "final_results.png"
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"


def test_reuse_takes_finished_twins_from_another_folder_and_trains_only_the_rest(tmp_path, capsys, one_thread):
    pareto, first, out = write_pareto(tmp_path), tmp_path / "first", tmp_path / "second"
    assert final(capsys, "--pareto", pareto, "--select", "0", "--recipe", "fast", "--epochs", "1", "--out", first)[0] == 0
    code, log, _ = final(capsys, "--pareto", pareto, "--select", "all", "--recipe", "fast", "--epochs", "1",
                         "--out", out, "--reuse", first)
    assert code == 0
    twin = first / TINY.arch_id / "seed-0"
    got = json.loads((out / TINY.arch_id / "seed-0" / "result.json").read_text())
    assert got["reused_from"] == str(twin / "result.json")
    assert got["test_acc"] == json.loads((twin / "result.json").read_text())["test_acc"]
    assert got["role"]["front_index"] == 0 and (out / TINY.arch_id / "seed-0" / "metrics.csv").is_file()
    assert f"{TINY.arch_id} seed 0: finished already in {twin}" in log
    trained = [json.loads(p.read_text()) for p in out.glob("*/seed-0/result.json") if p.parent.parent.name != TINY.arch_id]
    assert len(trained) == 1 and "reused_from" not in trained[0]  # the paper net had no twin: it trained
    assert "\n\n1 of 2 runs reused from other folders (`--reuse`" in (out / "final_results.md").read_text()
    # Another recipe is another job: nothing to reuse, it trains.
    code, log, _ = final(capsys, "--pareto", pareto, "--select", "0", "--recipe", "fast", "--epochs", "2",
                         "--out", tmp_path / "third", "--reuse", first)
    assert code == 0 and "finished already" not in log
    code, _, err = final(capsys, "--preset", "cifar_resnet20", "--smoke", "--out", out, "--reuse", tmp_path / "nope")
    assert code == 2 and err.count("\n") == 1 and "--reuse" in err and "no such folder" in err


def test_a_folder_of_several_precisions_says_so():
    from nas.retrain.results import provenance

    assert provenance([{"precision": "fp32"}, {"precision": "fp32"}]) == ""
    assert provenance([{"precision": "bf16"}, {"precision": "fp32"}, {"precision": "fp32"}]) == \
        "Mixed precision: bf16 1, fp32 2 runs (final_results.csv's precision column says which)."


def test_limit_never_caps_the_test_split_unless_asked():
    from sharesnet.data import load_data

    assert len(load_data("digits", limit=50).test) == 359
    assert len(load_data("digits", limit=50, test_limit=20).test) == 20


def test_a_folder_of_another_configuration_is_refused(tmp_path, capsys, one_thread):
    out = tmp_path / "final"
    assert final(capsys, "--preset", "cifar_resnet20", "--smoke", "--epochs", "1", "--out", out)[0] == 0
    code, _, err = final(capsys, "--preset", "cifar_resnet20", "--smoke", "--epochs", "2", "--out", out, "--resume")
    assert code == 2 and err.count("\n") == 1
    assert "holds the result of another configuration (recipe.epochs: 1 there, 2 now" in err and "another --out" in err
    code, _, err = final(capsys, "--preset", "cifar_resnet20", "--smoke", "--epochs", "1", "--out", out)
    assert code == 2 and "pass --resume to reuse it" in err
    code, log, _ = final(capsys, "--preset", "cifar_resnet20", "--smoke", "--epochs", "1", "--out", out, "--resume")
    assert code == 0 and "already finished" in log


def test_accuracy_shows_its_number_of_seeds():
    assert accuracy_text([0.98333]) == "0.9833 (n=1)"
    assert accuracy_text([0.98, 0.99, 0.97]) == "0.9800 ± 0.0100 (n=3)"


# --- D. epochs keep the recipe's shape ------------------------------------------------------

def test_search_space_epochs_scale_the_recipe(tmp_path):
    from nas.space.parse import load_space

    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "data": {"dataset": "digits"}, "base": {"preset": "cifar_resnet20"},
                                    "train": {"recipe": "wrn", "epochs": 30}, "objectives": ["val_acc", "params"],
                                    "trials": 2}))
    recipe = load_space(path).recipe
    assert recipe.epochs == 30 and lr_factor(recipe, 30 * 10 - 1, 10) == pytest.approx(0.2 ** 3)


def test_epochs_override_reaches_the_header(capsys, tmp_path):
    # It used to print "1 epochs ... lr x0.2 at epochs 0.3, 0.6, 0.8".
    code, log, _ = final(capsys, "--preset", "cifar_resnet20", "--smoke", "--recipe", "wrn", "--epochs", "1",
                         "--out", tmp_path)
    assert code == 0 and "recipe wrn: 1 epoch, batch 128, lr x0.2 after 30%, 60%, 80% of the run (epochs 0.3, " \
                         "0.6, 0.8)" in log
    assert "(1 epoch, " in log and "| wrn, 1 epoch, batch 128 |" in log and "1 epochs" not in log


@pytest.mark.parametrize("recipe,epochs,says", [
    ("wrn", 30, "30 epochs, batch 128, lr x0.2 at epochs 9, 18, 24"),
    ("wrn", 5, "5 epochs, batch 128, lr x0.2 after 30%, 60%, 80% of the run (epochs 1.5, 3, 4)"),
    ("fast", 15, "15 epochs, batch 256, cosine lr after a warm-up of 1 epoch"),
    ("fast", 1, "1 epoch, batch 256, cosine lr after a warm-up of 0.5 epochs (capped at half the run)"),
])
def test_the_schedule_line_says_what_the_trainer_does(recipe, epochs, says):
    from nas.cli.final import _schedule
    from sharesnet.train import get_recipe

    assert _schedule(get_recipe(recipe, epochs=epochs)) == says


# --- F. FLOPs at the trained size ---------------------------------------------------------

def test_flops_are_counted_at_the_size_trained_on(tmp_path, capsys, one_thread):
    root = write_imagefolder(tmp_path / "ds", n_per_class=6, side=8)
    spec = ArchSpec((StageSpec(1, 8, 1),), in_channels=3, num_classes=2, stem_width=8)
    arch = tmp_path / "tiny3.yaml"
    arch.write_text(spec.to_yaml())
    code, _, _ = final(capsys, "--arch", arch, "--dataset", "imagefolder", "--data-dir", root, "--recipe", "fast",
                       "--epochs", "1", "--val-fraction", "0.25", "--out", tmp_path / "final")
    assert code == 0
    row = json.loads((tmp_path / "final/tiny3/seed-0/result.json").read_text())
    assert row["flops"] == count_flops(build_model(spec), (3, 8, 8))


# --- G, H. one-line errors ----------------------------------------------------------------

@pytest.mark.parametrize("args, says", [
    (["--epochs", "0"], "argument --epochs: expected an integer >= 1, got '0'"),
    (["--batch-size", "0"], "argument --batch-size: expected an integer >= 1"),
    (["--seeds", "0"], "argument --seeds: expected an integer >= 1"),
    (["--val-fraction", "1.5"], "argument --val-fraction: expected a fraction in (0, 1)"),
    (["--limit", "-3"], "argument --limit: expected an integer >= 1"),
    (["--recipe", "fastt"], "unknown recipe 'fastt'; did you mean 'fast'? (or give a recipe YAML file)"),
    (["--preset", "resnet20"], "unknown model 'resnet20'; did you mean 'cifar_resnet20'?"),
    (["--jobs", "999"], "--jobs 999: this process may use"),
    (["--jobs", "2", "--gpus", "1"], "--jobs 2 is for the CPU; --gpus 1 already runs 1 job(s) at a time"),
])
def test_bad_values_are_one_line_errors(tmp_path, args, says):
    res = script("--preset", "cifar_resnet20", "--smoke", "--out", tmp_path, *args)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "Traceback" not in res.stderr, res.stderr
    assert says in res.stderr


def test_space_base_preset_gets_the_same_hint(tmp_path):
    from nas.space.parse import load_space
    from nas.space.problems import SpaceError

    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "data": {"dataset": "digits"}, "base": {"preset": "resnet20"},
                                    "objectives": ["val_acc", "params"], "trials": 2}))
    with pytest.raises(SpaceError, match="did you mean 'cifar_resnet20'"):
        load_space(path)


def test_split_flags_say_when_they_matter_and_it_is_so(capsys):
    # --val-fraction and --split-seed looked as if they mattered to a retraining on train+val.
    with pytest.raises(SystemExit):
        final_main(["--help"], "doc")
    text = " ".join(capsys.readouterr().out.split())
    assert text.count("Retraining trains on train+val, so it decides which images are trained on only with "
                      "--limit") == 2
    from sharesnet.data import load_data

    def trained_on(**kw):  # the images a retraining sees: train+val, as a sorted set of rows
        d = load_data(name="digits", **kw)
        return sorted(map(tuple, d.train.cat(d.val).images.flatten(1).tolist()))

    assert trained_on(val_fraction=0.1, split_seed=0) == trained_on(val_fraction=0.3, split_seed=5)
    assert trained_on(val_fraction=0.1, split_seed=0, limit=300) != trained_on(val_fraction=0.3, split_seed=5,
                                                                               limit=300)


def test_jobs_finished_before_the_run_are_counted_first_and_not_queued(tmp_path):
    # Queued as Ray tasks, finished jobs waited behind the training ones: "1/24 finished" while
    # ten were done, and a time to go that counted them as work left.
    from nas.retrain.jobs import Job, run_all
    from sharesnet.train import Recipe

    spec = ArchSpec(stages=(StageSpec(1, 8, 1),), in_channels=1, num_classes=10, stem_width=8)
    data = DataConfig(dataset="digits", limit=200)
    jobs = [Job("net", spec, data, Recipe(seed=k, epochs=1, batch_size=64), tmp_path / f"seed-{k}") for k in range(3)]
    (tmp_path / "seed-2").mkdir()
    (tmp_path / "seed-2/result.json").write_text(json.dumps({"test_acc": 0.25, "seed": 2}))
    lines = []
    rows = run_all(jobs, gpus=0, resume=True, log=lines.append)
    counts = [line for line in lines if " job(s) finished " in line]
    assert counts[0] == "[final] 1/3 job(s) finished (net seed 2: test accuracy 0.2500)", lines
    assert [r["seed"] for r in rows] == [0, 1, 2] and rows[2]["test_acc"] == 0.25  # in job order
    assert counts[2].startswith("[final] 3/3 job(s) finished (net seed 1:")
