"""One training of a soft-shared net, read off as hard sharing masks (scripts/propose.py).

The soft net is the space's base, plain, with k templates at every stage and conv position
the space searches (in stages of two or more blocks; the first block keeps its own weight).
It trains once on the space's data with its trial recipe, through the plain train(): no Ray.
Its layer similarity matrices are clustered at a sweep of thresholds (sharesnet.similarity);
each distinct clustering is a hard spec, costed as the search costs a candidate
(nas.search.candidate.costs), and folded from the trained soft weights (sharesnet.fold) to measure its
validation accuracy before any retraining. nas/propose/proposals.py lists the files written.
"""
from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any, Callable

import torch
import yaml

from nas.propose.proposals import INDEX, KIND, SPECS
from nas.propose.table import markdown, proposals_csv
from nas.search.candidate import costs
from nas.space.codec import encode, varies
from nas.space.config import SearchSpace
from nas.space.problems import SpaceError
from sharesnet import build_model
from sharesnet.data import DataBundle, load_data
from sharesnet.files import atomic_write
from sharesnet.fold import fold
from sharesnet.similarity import THRESHOLDS, Proposal, propose, similarities
from sharesnet.spec import ArchSpec
from sharesnet.train import load_checkpoint, train
from sharesnet.train.checkpoint import LAST, saved_epoch
from sharesnet.train.engine import pick_device
from sharesnet.train.evaluate import accuracy


def default_templates(layers: int) -> int:
    """Half a position's soft layers, rounded up. Fewer templates than layers make layers share
    directions, which the similarity then reads; with as many as layers they had no reason to:
    on the quickstart (ResNet-20 on digits, 2 soft layers per position, 2 templates) every pair
    stayed near orthogonal, |cos| <= 0.26 after 40 epochs, and nothing was proposed. With 2
    layers this gives 1 template: the layers are scaled copies and fold exactly."""
    return math.ceil(layers / 2)


def soft_spec(space: SearchSpace, templates: int | None = None) -> ArchSpec:
    """The space's plain base with k templates at every searched (stage, position) of >= 2 blocks."""
    base = space.base.unshared()
    soft = {(s, p): templates or default_templates(st.depth - 1)
            for s, st in enumerate(base.stages) for p, pos in enumerate(base.positions)
            if varies(space, s, pos) and st.depth >= 2}
    if not soft:
        raise SpaceError(f"{space.source}: vary.sharing: no stage whose sharing the space searches has 2 or more "
                         f"blocks, so there is nothing to soft-share; give the base deeper stages")
    return dataclasses.replace(base.with_soft(soft), name=f"{space.name}-softnet")


def run_propose(space: SearchSpace, out: Path, templates: int | None = None,
                thresholds: tuple[float, ...] = THRESHOLDS, epochs: int | None = None, contiguous: bool = False,
                log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train the soft net (or reuse its finished checkpoint in `out`), propose, fold, cost; write the files."""
    start = time.perf_counter()
    out = Path(out)
    spec = soft_spec(space, templates)
    recipe = space.recipe.with_epochs(epochs) if epochs else space.recipe
    data = load_data(**space.data.load_kwargs())
    size = (data.in_channels, *data.image_size)  # FLOPs at the size trained on, as the search counts them
    soft_params, soft_flops = costs(spec, size)
    ckpt_dir = out / "soft"
    if saved_epoch(ckpt_dir / LAST) == recipe.epochs:
        log(f"[propose] the soft net in {ckpt_dir} has finished its {recipe.epochs} epochs; reusing it")
    else:
        log(f"[propose] training the soft net `{spec.arch_id}` ({spec.sharing_summary()}; {soft_params:,} params) "
            f"on {data.name}: {len(data.train):,} train / {len(data.val):,} val images, {recipe.epochs} epochs")
    result = train(spec, recipe, data, checkpoint_dir=ckpt_dir, log=lambda line: log(f"[propose] soft net {line}"))
    device = pick_device(None)  # where train() ran: evaluate the folded nets there too
    model, ckpt = load_checkpoint(ckpt_dir / LAST, map_location=device)
    state = {k: v.cpu() for k, v in ckpt["model"].items()}
    soft = _soft_row(spec, soft_params, soft_flops, accuracy(model, data.val, data)) | {
        "checkpoint": f"soft/{LAST}", "epochs": result.epochs_run, "images_trained": result.images_trained,
        "train_time_s": sum(h.get("epoch_time_s") or 0.0 for h in result.history)}
    rows = [_proposal_row(space, spec, state, prop, data, size, device)
            for prop in propose(spec, state, thresholds, contiguous)]
    plain = spec.unshared()
    plain_params, plain_flops = costs(plain, size)
    doc = {"kind": KIND, "space": space.source, "seed": recipe.seed, "split_seed": space.data.split_seed,
           "recipe": recipe.to_dict(), "data": dataclasses.asdict(space.data), "input_size": list(size),
           "thresholds": list(thresholds), "contiguous": contiguous, "templates": _templates(spec),
           "plain": {"arch_id": plain.arch_id, "params": plain_params, "flops": plain_flops}, "soft": soft,
           "similarity": {key: sim.tolist() for key, sim in _named(spec, similarities(spec, state)).items()},
           "proposals": rows,
           # this run's, up to the files; a reused soft net's training is not in it (soft.train_time_s is)
           "wall_time_s": time.perf_counter() - start}
    _write(out, doc, spec)
    return doc


def _proposal_row(space: SearchSpace, spec: ArchSpec, state: dict[str, torch.Tensor], prop: Proposal,
                  data: DataBundle, size: tuple[int, int, int], device: torch.device) -> dict[str, Any]:
    """A proposal, named by its tightest threshold: costs, and validation accuracy with the soft weights folded in."""
    name = f"proposal-t{prop.thresholds[0]:.2f}"
    child = dataclasses.replace(prop.spec, name=name)
    folded = fold(spec, state, child)
    hard = build_model(child)
    hard.load_state_dict(folded.state)
    params, flops = costs(child, size)
    return {"name": name, "thresholds": list(prop.thresholds), "arch_id": child.arch_id,
            "sharing": child.sharing_summary(), "params": params, "flops": flops,
            "val_acc": accuracy(hard.to(device), data.val, data), "fold_residual": folded.residual,
            # a warm start needs the space's patterns to express it; train_final.py does not
            "in_space": encode(child, space) is not None,
            "file": f"{SPECS}/{name}.yaml", "spec": child.to_dict()}


def _soft_row(spec: ArchSpec, params: int, flops: int, val_acc: float) -> dict[str, Any]:
    return {"name": spec.name, "thresholds": [], "arch_id": spec.arch_id, "sharing": spec.sharing_summary(),
            "params": params, "flops": flops, "val_acc": val_acc, "fold_residual": None, "in_space": None,
            "file": "soft.yaml", "spec": spec.to_dict()}


def _templates(spec: ArchSpec) -> dict[str, int]:
    return {f"s{s + 1}.{pos}": st.templates(p) for s, st in enumerate(spec.stages)
            for p, pos in enumerate(spec.positions) if st.templates(p)}


def _named(spec: ArchSpec, sims: dict) -> dict[str, Any]:
    """Similarity matrices keyed `s1.conv2`; rows and columns are blocks 1..depth-1."""
    return {f"s{s + 1}.{spec.positions[p]}": sim for (s, p), sim in sims.items()}


def _write(out: Path, doc: dict[str, Any], spec: ArchSpec) -> None:
    """Every file of the run; each spec file carries the soft net's seed, recipe and data beside its spec."""
    from nas.propose.plot import plot_similarity

    (out / SPECS).mkdir(parents=True, exist_ok=True)
    for old in (out / SPECS).glob("*.yaml"):  # a rerun with other thresholds: `--arch DIR/specs` takes this run's only
        old.unlink()
    origin = {"soft_arch_id": doc["soft"]["arch_id"], "soft_checkpoint": doc["soft"]["checkpoint"],
              "seed": doc["seed"], "split_seed": doc["split_seed"], "recipe": doc["recipe"], "data": doc["data"]}
    for row in [doc["soft"], *doc["proposals"]]:
        body = {k: v for k, v in row.items() if k not in ("file", "spec")} | {"from": origin, "spec": row["spec"]}
        atomic_write(out / row["file"], yaml.safe_dump(body, sort_keys=False))
    atomic_write(out / INDEX, yaml.safe_dump(doc, sort_keys=False))
    rows = [doc["soft"], *doc["proposals"]]
    atomic_write(out / "proposals.csv", proposals_csv(rows, doc["plain"]))
    atomic_write(out / "proposals.md", markdown(rows, doc["plain"]) + "\n")
    plot_similarity(doc["similarity"], out / "similarity.png", f"{spec.name} ({spec.arch_id}): |cos| of the "
                    f"blocks' coefficients; val acc {doc['soft']['val_acc']:.4f}")
