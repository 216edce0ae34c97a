"""A job folder holds one configuration: refuse to mix runs, before anything trains.

A result.json or last.pt of another architecture, recipe or data in a job's folder would
otherwise be reused on --resume as if it were this job's, or be half-overwritten. The same
comparison finds a job's finished twin in another --out folder (`--reuse`), so a net that
was already retrained (a search's plain and paper baselines, say) is not trained again.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from nas.retrain.jobs import Job
from nas.space.problems import SpaceError
from sharesnet.files import atomic_write


def check_folders(jobs: list[Job], resume: bool) -> None:
    """Before any training: every job folder is empty, or (with --resume) holds this very job."""
    for job in jobs:
        found = _folder_config(job.folder)
        if found is None:
            continue
        what, config = found
        diff = differences(config, job_config(job))
        if diff:
            raise SpaceError(f"{job.folder}: holds the {what} of another configuration ({'; '.join(diff)}); "
                             f"pass another --out, e.g. --out {job.folder.parent.parent}-2")
        if not resume:
            verb = "reuse it" if what == "result" else "continue it"
            raise SpaceError(f"{job.folder}: this job's {what} is already there; pass --resume to {verb}, "
                             f"or another --out to train it afresh")


def find_result(job: Job, folders: list[Path]) -> tuple[Path, dict] | None:
    """(path, row) of a finished result.json of this very job in one of `folders` (train_final --out
    folders): the same arch_id, recipe (its seed included) and data facts. Where the images lie
    (data_dir) does not count: the same dataset on another disk trains the same."""
    want = portable(job_config(job))
    for folder in folders:
        for path in sorted(Path(folder).glob(f"*/seed-{job.recipe.seed}/result.json")):
            row = json.loads(path.read_text())
            if not {"arch_id", "recipe", "data"} <= row.keys():  # not a train_final result: never a twin
                continue
            if row["arch_id"] == job.spec.arch_id and not differences(portable(result_config(row)), want):
                return path, row
    return None


def adopt(job: Job, folders: list[Path], log) -> bool:
    """With no result of its own, copy this job's finished twin from `folders` into its folder, under
    this job's role and with `reused_from`; False when there is none."""
    if (job.folder / "result.json").is_file():
        return False
    found = find_result(job, folders)
    if found is None:
        return False
    path, row = found
    job.folder.mkdir(parents=True, exist_ok=True)
    metrics = path.parent / "metrics.csv"
    if metrics.is_file():
        atomic_write(job.folder / "metrics.csv", metrics.read_text())
    row = {**row, "name": job.name, "role": job.role, "proposed_from": job.proposed_from, "reused_from": str(path)}
    atomic_write(job.folder / "result.json", json.dumps(row, indent=1))
    log(f"[final] {job.label}: finished already in {path.parent} (same net, recipe, seed and data); reusing it")
    return True


def portable(config: dict) -> dict:
    """A job config without where its images lie."""
    return {**config, "data": {k: v for k, v in config["data"].items() if k != "data_dir"}}


def _folder_config(folder: Path) -> tuple[str, dict] | None:
    """("result" | "checkpoint", its spec/recipe/data) for a job folder that holds either."""
    done, ckpt = folder / "result.json", folder / "last.pt"
    if done.is_file():
        return "result", result_config(json.loads(done.read_text()))
    if ckpt.is_file():
        from sharesnet.train.checkpoint import read

        ck = read(ckpt)
        info = ck["data"]
        data = {"dataset": info["name"], "val_fraction": info["val_fraction"], "split_seed": info["split_seed"],
                "limit": info.get("limit"), "test_limit": info.get("test_limit")}
        return "checkpoint", {"arch_id": ck["arch_id"], "recipe": ck["recipe"], "data": data}
    return None


def result_config(row: dict) -> dict:
    """What decided a finished job's result.json: its arch_id, recipe and data facts."""
    return {"arch_id": row["arch_id"], "recipe": row["recipe"], "data": _data_facts(row["data"], row.get("test_limit"))}


def job_config(job: Job) -> dict:
    return {"arch_id": job.spec.arch_id, "recipe": job.recipe.to_dict(),
            "data": _data_facts(dataclasses.asdict(job.data), job.test_limit)}


def _data_facts(data: dict, test_limit: int | None) -> dict:
    """What decides the images a job trains and tests on (a data_dir is compared resolved)."""
    facts = {k: data.get(k) for k in ("dataset", "val_fraction", "split_seed", "limit")}
    if data.get("data_dir"):
        facts["data_dir"] = str(Path(data["data_dir"]).resolve())
    return facts | {"test_limit": test_limit}


def differences(old: dict, new: dict) -> list[str]:
    if old["arch_id"] != new["arch_id"]:
        return [f"arch_id {old['arch_id']} there, {new['arch_id']} now"]
    old_name, new_name = old["recipe"].get("name"), new["recipe"].get("name")
    if old_name != new_name:  # another recipe altogether: its name says more than a list of keys
        return [f"recipe {old_name or 'custom'!r} there, {new_name or 'custom'!r} now"]
    label = ("name", "compile")  # change nothing that is trained
    diff = [f"recipe.{k}: {old['recipe'].get(k)!r} there, {v!r} now" for k, v in new["recipe"].items()
            if k not in label and old["recipe"].get(k) != v]
    # A checkpoint states fewer data facts than a result: compare what both hold.
    return diff + [f"data.{k}: {old['data'][k]!r} there, {v!r} now" for k, v in new["data"].items()
                   if k in old["data"] and old["data"][k] != v]
