"""A job folder holds one configuration: refuse to mix runs, before anything trains.

A result.json or last.pt of another architecture, recipe or data in a job's folder would
otherwise be reused on --resume as if it were this job's, or be half-overwritten.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from nas.retrain.jobs import Job
from nas.space.problems import SpaceError


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
