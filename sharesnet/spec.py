"""ArchSpec: a typed, frozen, canonical description of a (Sha)ResNet.

Everything needed to build the network is here and nothing else: the builder is a
pure function of it. Sharing masks are stored canonically (groups relabelled by first
appearance), so two spellings of one architecture compare, hash and `arch_id` equal.
A stage position may instead be soft-shared (Savarese & Maire 2019): `soft` gives it a
bank of k templates that its blocks mix (sharesnet/soft.py). Soft settings enter the
serialised form, and so the arch_id, only where they are used: hard specs hash as before.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from sharesnet import masks as M
from sharesnet.hints import did_you_mean

Stem = Literal["cifar", "imagenet"]
BlockKind = Literal["basic", "bottleneck"]
Shortcut = Literal["A", "B"]
CONV_POSITIONS = {"basic": ("conv1", "conv2"), "bottleneck": ("conv1", "conv2", "conv3")}


class SpecError(ValueError):
    """An invalid architecture spec; the message names the field and the fix."""


@dataclass(frozen=True)
class StageSpec:
    depth: int  # number of residual blocks
    width: int  # output channels of every block (bottleneck: after expansion)
    stride: int = 1  # stride of the stage's first block
    share: tuple[M.Mask, ...] = ()  # one group label per block, per conv position; () = no sharing
    # Templates per conv position (0 = hard); () = no soft sharing. A soft position's blocks
    # after the first mix k templates with their own coefficients (sharesnet/soft.py).
    soft: tuple[int, ...] = ()

    def mask(self, position: int) -> M.Mask:
        """Canonical mask of one conv position (0-based)."""
        return self.share[position]

    def templates(self, position: int) -> int:
        """Templates of a soft-shared conv position (0-based); 0 for a hard one."""
        return self.soft[position] if self.soft else 0


@dataclass(frozen=True)
class ArchSpec:
    stages: tuple[StageSpec, ...]
    block: BlockKind = "basic"
    preact: bool = False  # pre-activation blocks (He et al. 2016b) and a final BN-ReLU
    stem: Stem = "cifar"  # cifar: 3x3 conv; imagenet: 7x7/2 conv + 3x3/2 max-pool
    stem_width: int = 16
    shortcut: Shortcut = "B"  # A: zero-padded identity (He's CIFAR nets); B: 1x1 projection
    expansion: int = 4  # bottleneck: width / inner channels
    num_classes: int = 10
    in_channels: int = 3
    share_norm: bool = False  # False: every block keeps its own BatchNorm (the paper)
    name: str = field(default="", compare=False)  # a label only; not part of arch_id

    def __post_init__(self) -> None:
        stages = tuple(s if isinstance(s, StageSpec) else StageSpec(**s) for s in self.stages)
        n_pos = len(CONV_POSITIONS.get(self.block, ()))
        stages = tuple(_canonical_stage(s, n_pos) for s in stages)
        object.__setattr__(self, "stages", stages)
        validate(self)

    # --- derived facts -------------------------------------------------------------
    @property
    def positions(self) -> tuple[str, ...]:
        return CONV_POSITIONS[self.block]

    def stage_in_channels(self, s: int) -> int:
        return self.stem_width if s == 0 else self.stages[s - 1].width

    def conv_shape(self, s: int, b: int, p: int) -> tuple[int, int, int, int]:
        """Weight shape (out, in, k, k) of conv position p in block b of stage s."""
        st = self.stages[s]
        cin = self.stage_in_channels(s) if b == 0 else st.width
        if self.block == "basic":
            return (st.width, cin if p == 0 else st.width, 3, 3)
        mid = st.width // self.expansion
        return [(mid, cin, 1, 1), (mid, mid, 3, 3), (st.width, mid, 1, 1)][p]

    def conv_stride(self, s: int, b: int, p: int) -> int:
        """Stride of a conv call; it belongs to the call, not to the (shareable) weight."""
        strided_position = 0 if self.block == "basic" else 1
        return self.stages[s].stride if (b == 0 and p == strided_position) else 1

    @property
    def depth(self) -> int:
        """Conventional depth: weighted layers along the main path (stem + convs + fc)."""
        return 2 + len(self.positions) * sum(s.depth for s in self.stages)

    @property
    def arch_id(self) -> str:
        """Stable short hash of the canonical spec, for de-duplication and file names."""
        body = self.to_dict()
        body.pop("name", None)
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return hashlib.sha1(text.encode()).hexdigest()[:12]

    @property
    def is_soft(self) -> bool:
        return any(st.soft for st in self.stages)

    def unshared(self) -> "ArchSpec":
        """The same network with every conv owning its weight (no hard or soft sharing)."""
        stages = tuple(dataclasses.replace(s, share=(), soft=()) for s in self.stages)
        return dataclasses.replace(self, stages=stages, name=_plain_name(self.name))

    def without_soft(self) -> "ArchSpec":
        """The same hard masks, soft positions turned back into plain ones."""
        return dataclasses.replace(self, stages=tuple(dataclasses.replace(s, soft=()) for s in self.stages))

    def with_soft(self, soft: dict[tuple[int, int], int]) -> "ArchSpec":
        """Give (stage, position) pairs k templates each (0 makes a position hard again)."""
        stages = []
        for s, st in enumerate(self.stages):
            ks = list(st.soft or (0,) * len(self.positions))
            for (ss, p), k in soft.items():
                if ss == s:
                    ks[p] = k
            stages.append(dataclasses.replace(st, soft=tuple(ks)))
        return dataclasses.replace(self, stages=tuple(stages))

    def with_masks(self, share: dict[tuple[int, int], M.Mask]) -> "ArchSpec":
        """Replace the masks of (stage, position) pairs."""
        stages = []
        for s, st in enumerate(self.stages):
            new = list(st.share)
            for (ss, p), mask in share.items():
                if ss == s:
                    new[p] = tuple(mask)
            stages.append(dataclasses.replace(st, share=tuple(new)))
        return dataclasses.replace(self, stages=tuple(stages))

    def shape_text(self) -> str:
        """`5-5-5 / 16-32-64`: blocks per stage / channels per stage."""
        return "-".join(str(st.depth) for st in self.stages) + " / " + "-".join(str(st.width) for st in self.stages)

    def sharing_summary(self) -> str:
        """Compact text of every mask that shares, e.g. `s1.conv2=0111 s2.conv2=0111`."""
        parts = []
        for s, st in enumerate(self.stages):
            for p, pos in enumerate(self.positions):
                mask = st.mask(p)
                if st.templates(p):
                    parts.append(f"s{s + 1}.{pos}=soft(k={st.templates(p)})")
                elif M.n_shared_groups(mask):
                    parts.append(f"s{s + 1}.{pos}=" + "".join(_label_char(g) for g in mask))
        return " ".join(parts) or "none"

    # --- serialisation -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["stages"] = [
            {"depth": st.depth, "width": st.width, "stride": st.stride,
             "share": {pos: list(st.mask(p)) for p, pos in enumerate(self.positions)},
             # only where used, so every hard spec keeps the arch_id it had before soft sharing
             **({"soft": {pos: st.templates(p) for p, pos in enumerate(self.positions) if st.templates(p)}}
                if st.soft else {})}
            for st in self.stages
        ]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "spec") -> "ArchSpec":
        """Rebuild from `to_dict` output; unknown keys and bad values raise SpecError."""
        if not isinstance(d, dict):
            raise SpecError(f"{where}: expected a mapping, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        _reject_unknown(d, known, where)
        if "stages" not in d:
            raise SpecError(f"{where}: missing key 'stages' (a list of {{depth, width, stride, share, soft}})")
        kwargs = dict(d)
        block = kwargs.get("block", "basic")
        kwargs["stages"] = tuple(_stage_from_dict(st, block, f"{where}.stages[{i}]")
                                 for i, st in enumerate(d["stages"]))
        try:
            return cls(**kwargs)
        except TypeError as e:
            raise SpecError(f"{where}: {e}") from None

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_yaml(cls, text: str, where: str = "spec") -> "ArchSpec":
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise SpecError(f"{where}: not valid YAML: {e}") from None
        if isinstance(data, dict) and "spec" in data and "stages" not in data:
            data = data["spec"]  # result files and checkpoints nest the spec
        return cls.from_dict(data, where)

    @classmethod
    def load(cls, path: str | Path) -> "ArchSpec":
        """Read a spec from a YAML or JSON file (JSON is YAML)."""
        path = Path(path)
        if not path.is_file():
            raise SpecError(f"{path}: no such spec file")
        return cls.from_yaml(path.read_text(), where=str(path))


# --- validation ---------------------------------------------------------------------
def validate(spec: ArchSpec) -> None:
    """Raise SpecError with one clear message for the first problem found."""
    _check_choice("block", spec.block, CONV_POSITIONS)
    _check_choice("stem", spec.stem, ("cifar", "imagenet"))
    _check_choice("shortcut", spec.shortcut, ("A", "B"))
    for key in ("stem_width", "expansion", "num_classes", "in_channels"):
        _check_positive(key, getattr(spec, key))
    if not spec.stages:
        raise SpecError("stages: at least one stage is needed")
    for s, st in enumerate(spec.stages):
        where = f"stages[{s}]"
        for key in ("depth", "width"):
            _check_positive(f"{where}.{key}", getattr(st, key))
        if st.stride not in (1, 2):
            raise SpecError(f"{where}.stride: must be 1 or 2, got {st.stride}")
        if spec.block == "bottleneck" and st.width % spec.expansion:
            raise SpecError(f"{where}.width: {st.width} is not divisible by expansion {spec.expansion}")
        if spec.shortcut == "A" and st.width < spec.stage_in_channels(s):
            raise SpecError(f"{where}.width: shortcut A zero-pads channels, so width {st.width} "
                            f"cannot be below the stage input {spec.stage_in_channels(s)}; use shortcut B")
        _check_masks(spec, s)
        _check_soft(spec, s)


def _check_soft(spec: ArchSpec, s: int) -> None:
    st = spec.stages[s]
    for p, pos in enumerate(spec.positions):
        k, where = st.templates(p), f"stages[{s}].soft.{pos}"
        if not k:
            continue
        if st.depth < 2:
            raise SpecError(f"{where}: a soft position needs at least 2 blocks (the first keeps its own "
                            f"weight, as in Savarese & Maire 2019); this stage has {st.depth}: remove soft.{pos}")
        if st.mask(p) != M.none(st.depth):
            raise SpecError(f"{where}: a soft position shares through its templates, so its hard mask "
                            f"share.{pos} must be none; remove share.{pos} or soft.{pos}")


def _check_masks(spec: ArchSpec, s: int) -> None:
    st = spec.stages[s]
    for p, pos in enumerate(spec.positions):
        mask = st.mask(p)
        if len(mask) != st.depth:
            raise SpecError(f"stages[{s}].share.{pos}: {len(mask)} labels for {st.depth} blocks; "
                            f"give one group label per block")
        for members in M.groups(mask).values():
            first = spec.conv_shape(s, members[0], p)
            for b in members[1:]:
                other = spec.conv_shape(s, b, p)
                if other != first:
                    raise SpecError(
                        f"stages[{s}].share.{pos}: blocks {members[0]} and {b} cannot share {pos}: "
                        f"weight shapes differ ({_fmt(first)} vs {_fmt(other)}); "
                        f"give block {b} its own group label")


def _canonical_stage(st: StageSpec, n_pos: int) -> StageSpec:
    if not isinstance(st.depth, int) or isinstance(st.depth, bool):
        raise SpecError(f"depth: must be a positive integer, got {st.depth!r}")
    share = tuple(M.canonical(m) for m in st.share) if st.share else tuple(
        M.none(st.depth) for _ in range(n_pos))
    if st.share and len(share) != n_pos:
        raise SpecError(f"share: {len(share)} masks given, the block type has {n_pos} conv positions")
    soft = tuple(st.soft)
    if soft and len(soft) != n_pos:
        raise SpecError(f"soft: {len(soft)} template counts given, the block type has {n_pos} conv positions")
    for k in soft:
        if not isinstance(k, int) or isinstance(k, bool) or k < 0:
            raise SpecError(f"soft: template counts must be integers >= 1 (0 = hard), got {k!r}")
    return dataclasses.replace(st, share=share, soft=soft if any(soft) else ())  # all hard: canonical ()


def _stage_from_dict(d: Any, block: str, where: str) -> StageSpec:
    if not isinstance(d, dict):
        raise SpecError(f"{where}: expected a mapping with depth, width, stride, share, soft")
    _reject_unknown(d, {"depth", "width", "stride", "share", "soft"}, where)
    share = d.get("share") or {}
    positions = CONV_POSITIONS.get(block, ())
    if isinstance(share, dict):
        _reject_unknown(share, set(positions), f"{where}.share")
        depth = d.get("depth", 0)
        share = tuple(tuple(share.get(pos, M.none(depth))) for pos in positions)
    else:
        raise SpecError(f"{where}.share: expected a mapping like {{conv2: [0, 1, 1]}}")
    soft = d.get("soft") or {}
    if not isinstance(soft, dict):
        raise SpecError(f"{where}.soft: expected a mapping of templates per position like {{conv2: 4}}")
    _reject_unknown(soft, set(positions), f"{where}.soft")
    for pos, k in soft.items():
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise SpecError(f"{where}.soft.{pos}: expected a number of templates >= 1, got {k!r}")
    soft = tuple(soft.get(pos, 0) for pos in positions)
    try:
        return StageSpec(depth=d["depth"], width=d["width"], stride=d.get("stride", 1), share=share, soft=soft)
    except KeyError as e:
        raise SpecError(f"{where}: missing key {e}") from None


def _reject_unknown(d: dict, known: set[str], where: str) -> None:
    for key in d:
        if key not in known:
            raise SpecError(f"{where}: unknown key '{key}'; {did_you_mean(key, sorted(known))}")


def _check_choice(key: str, value: Any, allowed) -> None:
    if value not in allowed:
        raise SpecError(f"{key}: must be one of {', '.join(map(str, allowed))}, got {value!r}")


def _check_positive(key: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise SpecError(f"{key}: must be a positive integer, got {value!r}")


def _fmt(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def _label_char(g: int) -> str:
    return "0123456789abcdefghijklmnopqrstuvwxyz"[g] if g < 36 else "+"


def _plain_name(name: str) -> str:
    return f"{name}-unshared" if name else ""
