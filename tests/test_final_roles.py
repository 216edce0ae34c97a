"""A retrained net is named by its arch_id; its `#` and rank say which export they are from (issue 17, item 1).

An extended search (`--resume --trials 28`) re-exports and renumbers its front. Retraining
both exports into one folder gave two "front #0" rows with different arch_ids, two
"front #0 | plain" comparisons and two "front #0" points in the plot.
"""
import dataclasses
import json

import pytest
import yaml

from nas.cli.final import final_main
from nas.retrain.roles import Export, Role, Score, describe_exports, export_tags, origin, role_of, role_text
from nas.space.config import DataConfig
from sharesnet.spec import ArchSpec, StageSpec

DATA = dataclasses.asdict(DataConfig(dataset="digits", limit=300, val_fraction=0.2))


def _spec(depths, width=8, share=False):
    spec = ArchSpec(tuple(StageSpec(d, width * 2 ** i, 1 if i == 0 else 2) for i, d in enumerate(depths)),
                    in_channels=1, num_classes=10, stem_width=8)
    return spec.with_masks({(0, 1): (0,) * depths[0]}) if share else spec


X, Y, Z, PLAIN = _spec((1, 1)), _spec((2, 1), share=True), _spec((1, 2)), _spec((2, 2))


def _entry(spec, rank, tag=None, val=None):
    """A pareto.yaml entry; `val`: the search's (val_acc, val_acc_std, n_seeds), absent from older exports."""
    score = dict(zip(("val_acc", "val_acc_std", "n_seeds"), val)) if val else {}
    return {"rank": rank, "arch_id": spec.arch_id, "spec": spec.to_dict(), "data": DATA, "warm_start": tag} | score


def _export(path, evaluated, front, plain_rank, vals=None, runners_up=()):
    """A pareto.yaml as the export after `evaluated` architectures writes it; `vals` by arch_id."""
    vals = vals or {}
    path.write_text(yaml.safe_dump({"experiment": "/runs/experiments/quickstart", "n_candidates": evaluated,
                                    "front": [_entry(s, 1, val=vals.get(s.arch_id)) for s in front],
                                    "baselines": {"plain": _entry(PLAIN, plain_rank, "plain", vals.get(PLAIN.arch_id))},
                                    "runners_up": [_entry(s, 2, val=vals.get(s.arch_id)) for s in runners_up]}))
    return path


def _final(capsys, *args):
    code = final_main([str(a) for a in args], "doc")
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_two_exports_retrained_into_one_folder_name_each_net_by_arch_id(tmp_path, capsys, one_thread):
    first = _export(tmp_path / "a.yaml", 24, [X, Y], plain_rank=3)
    extended = _export(tmp_path / "b.yaml", 28, [Z, X, Y], plain_rank=4)  # the front renumbered: X is #1 now
    out, common = tmp_path / "final", ["--select", "all,plain", "--recipe", "fast", "--epochs", "1", "--out"]
    _final(capsys, "--pareto", first, *common, out)
    log = _final(capsys, "--pareto", extended, *common, out, "--resume")

    assert (f"[final] from {extended} (exported after 28 evaluated architectures): {Z.arch_id} front #0, "
            f"{X.arch_id} front #1, {Y.arch_id} front #2, {PLAIN.arch_id} plain (rank 4)") in log
    assert f"[final] {X.arch_id} seed 0: already finished (retrained as front #0), reusing" in log
    assert f"[final] {Z.arch_id} seed 0 [" in log and "front #" not in "".join(
        line for line in log.splitlines() if "] epoch " in line)  # progress lines name the arch_id

    table = (out / "final_results.md").read_text()
    assert table.startswith("This folder mixes nets retrained from 2 exports of the front, which number it "
                            "differently: each role names its export (after 24 evaluated; after 28 evaluated).")
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    by_id = {r.split(" | ")[0][3:-1]: r.split(" | ")[1] for r in rows[:4]}
    assert by_id == {X.arch_id: "front #0 [after 24 evaluated]", Y.arch_id: "front #1 [after 24 evaluated]",
                     Z.arch_id: "front #0 [after 28 evaluated]", PLAIN.arch_id: "plain (rank 3) [after 24 evaluated]"}
    against = [line for line in table.splitlines() if line.endswith("|") and " | plain | " in line]
    assert sorted(a.split(" | ")[0] for a in against) == sorted(
        f"| `{s.arch_id}` {by_id[s.arch_id]}" for s in (X, Y, Z))  # each comparison names its net's arch_id
    csv_text = (out / "final_results.csv").read_text()
    assert "quickstart after 28 evaluated" in csv_text and "quickstart after 24 evaluated" in csv_text
    assert "2 exports" in log  # the printed table says so too
    # The done line counted every line of the printed tables (19 "rows" for 5 jobs).
    assert log.strip().splitlines()[-1] == (f"[final] done: 4 job(s) finished; {out / 'final_results.md'} lists every "
                                            f"run made in {out}: 4 run(s) of 4 net(s) (architecture, recipe and data)")


def test_the_plot_labels_each_net_once_by_arch_id(tmp_path, capsys, one_thread):
    from nas.retrain.plot import figure
    from nas.retrain.results import _groups, collect

    extended = _export(tmp_path / "b.yaml", 28, [Z, X, Y], plain_rank=4)
    _final(capsys, "--pareto", extended, "--select", "all,plain", "--recipe", "fast", "--epochs", "1", "--out",
           tmp_path / "final")
    rows, _ = collect(tmp_path / "final")
    fig = figure(_groups(rows))
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert sorted(labels) == sorted([f"{Z.arch_id} front #0 (n=1)", f"{X.arch_id} front #1 (n=1)",
                                     f"{Y.arch_id} front #2 (n=1)", f"{PLAIN.arch_id} plain (rank 4) (n=1)"])


@pytest.mark.parametrize("name,role", [
    ("front #0", Role(0, 1, None, None)), ("front #1 (paper)", Role(1, 1, "paper", None)),
    ("plain (rank 2)", Role(None, 2, "plain", None)), ("paper (rank 5)", Role(None, 5, "paper", None)),
    ("cifar_resnet20", None), ("plainish (rank 2)", None),
])
def test_results_written_before_roles_were_recorded_read_theirs_from_the_name(name, role):
    assert role_of({"name": name}) == role
    assert role_of({"name": "x", "role": None}) is None  # a preset written now


def test_one_export_is_named_above_the_table_and_not_in_every_cell():
    a = Export("/x/quickstart", 24, ("i", "j"))
    roles = [Role(0, 1, None, a), Role(None, 3, "plain", a), None]
    assert export_tags(roles) == {}
    assert [role_text(r, {}) for r in roles] == ["front #0", "plain (rank 3)", ""]
    assert describe_exports(roles) == ("Front `#` and ranks are as of the export of quickstart's front after 24 "
                                       "evaluated.")
    assert describe_exports([Role(0, 1, None, None)]) == ""  # old result.json files: nothing to state


def test_exports_of_two_searches_carry_the_experiment_in_their_tag():
    a, b = Export("/x/one", 24, ("i",)), Export("/x/two", 24, ("j",))
    assert export_tags([Role(0, 1, None, a), Role(0, 1, None, b)]) == {a: "one after 24 evaluated",
                                                                       b: "two after 24 evaluated"}
    legacy = Role(0, 1, None, None)
    assert export_tags([legacy, Role(0, 1, None, a)])[None] == "export not recorded"


def test_a_result_json_records_its_role(tmp_path, capsys, one_thread):
    extended = _export(tmp_path / "b.yaml", 28, [Z, X], plain_rank=4, vals={X.arch_id: (0.61, 0.02, 3)})
    _final(capsys, "--pareto", extended, "--select", "1", "--recipe", "fast", "--epochs", "1", "--out", tmp_path / "f")
    row = json.loads((tmp_path / "f" / X.arch_id / "seed-0" / "result.json").read_text())
    assert row["name"] == X.arch_id and row["role"] == {
        "front_index": 1, "rank": 1, "baseline": None,
        "export": {"experiment": "/runs/experiments/quickstart", "evaluated": 28, "front": [Z.arch_id, X.arch_id]},
        "search": {"score": "val_acc", "val_acc": 0.61, "val_acc_std": 0.02, "n_seeds": 3}}
    assert role_of(row).search == Score(0.61, 0.02, 3, "val_acc")
    # a result.json written before the score was named reads as val_acc
    del row["role"]["search"]["score"]
    assert role_of(row).search == Score(0.61, 0.02, 3, "val_acc")


def test_a_train_acc_searchs_score_is_kept_under_its_name():
    entry = _entry(X, 1) | {"score": "train_acc", "train_acc": 0.71, "train_acc_std": 0.004, "n_seeds": 2,
                            "val_acc": 0.55}  # never taken for the score
    role = origin(entry, 0, Export("/x", 24, (X.arch_id,)))
    assert role["search"] == {"score": "train_acc", "train_acc": 0.71, "train_acc_std": 0.004, "n_seeds": 2}
    assert role_of({"role": role}).search == Score(0.71, 0.004, 2, "train_acc")


def test_the_results_say_whether_the_searchs_ranking_held(tmp_path, capsys, one_thread):
    # The search ranked Z > X > Y > PLAIN. Whatever retraining gives, the section must state
    # the rank correlation computed from the very ranks it lists.
    vals = {Z.arch_id: (0.9, 0.01, 2), X.arch_id: (0.8, None, 1), Y.arch_id: (0.7, None, 1), PLAIN.arch_id: (0.6, 0.02, 2)}
    # Y is a runner-up (rank 2): retrained beside the front, it takes part in the check
    pareto = _export(tmp_path / "p.yaml", 12, [Z, X], plain_rank=3, vals=vals, runners_up=[Y])
    log = _final(capsys, "--pareto", pareto, "--select", "all,plain,runners-up", "--recipe", "fast", "--epochs", "1",
                 "--out", tmp_path / "f")
    text = (tmp_path / "f" / "final_results.md").read_text()
    assert "## Did the search's ranking hold? (quickstart)" in text and "Did the search" in log
    section = text[text.index("## Did the search"):]
    assert "Over the 4 nets retrained from this search" in section and "rough figure" in section  # 4 < 8
    rows = [line.split(" | ") for line in section.splitlines() if line.startswith("| `")]
    assert len(rows) == 4
    search_rank = {r[0][3:15]: int(r[2]) for r in rows}
    assert search_rank == {Z.arch_id: 1, X.arch_id: 2, Y.arch_id: 3, PLAIN.arch_id: 4}
    assert [r[1] for r in rows if r[0][3:15] == Z.arch_id] == ["0.9000 ± 0.0100 (2)"]
    assert f"| `{Y.arch_id}` rank 2 |" in section
    test_rank = [int(r[4].rstrip(" |")) for r in rows]
    assert test_rank == sorted(test_rank)  # listed in retrained order
    from scipy import stats

    rho = stats.spearmanr([int(r[2]) for r in rows], test_rank).statistic
    assert f"**Spearman {rho:.2f}," in section


@pytest.mark.parametrize("select", ["all", "0", "all,plain"])
def test_an_empty_front_is_named_as_such_before_anything_starts(tmp_path, capsys, select):
    # It failed with "[Errno 2] No such file or directory: '.../.final_results.csv.tmpNNN'",
    # or, under --select 0, with "front indices 0..-1".
    pareto = tmp_path / "pareto.yaml"
    pareto.write_text(yaml.safe_dump({"n_candidates": 0, "front": [], "baselines": {}}))
    code = final_main(["--pareto", str(pareto), "--select", select, "--out", str(tmp_path / "final")], "doc")
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"error: the front in {pareto} is empty (its search evaluated no architecture to the end;")
    assert "0..-1" not in err and not (tmp_path / "final").exists()


def test_the_baselines_of_an_empty_front_are_still_retrainable(tmp_path):
    from nas.retrain.jobs import from_pareto
    from nas.space.problems import SpaceError

    pareto = tmp_path / "pareto.yaml"
    pareto.write_text(yaml.safe_dump({"n_candidates": 1, "front": [], "baselines": {"plain": _entry(PLAIN, 1, "plain")}}))
    assert [a.name for a in from_pareto(pareto, "plain")] == [PLAIN.arch_id]
    with pytest.raises(SpaceError, match="is empty .*; its baselines are still there: --select plain"):
        from_pareto(pareto, "all")
    with pytest.raises(SpaceError, match="--select paper: this search has no paper baseline to retrain"):
        from_pareto(pareto, "paper")


def test_matched_selection_retrains_unshared_nets_of_each_members_size_and_compares_them(tmp_path, capsys, one_thread):
    from nas.space.matched import matched_plain
    from sharesnet import build_model, count_params

    pareto = _export(tmp_path / "p.yaml", 12, [Y, Z], plain_rank=3)
    want = {k: matched_plain(PLAIN, count_params(build_model(Y)), k) for k in ("shallower", "narrower")}
    assert len({s.arch_id for s in want.values()} | {Y.arch_id, PLAIN.arch_id}) == 4  # two new nets
    log = _final(capsys, "--pareto", pareto, "--select", "0,plain,matched", "--recipe", "fast", "--epochs", "1",
                 "--out", tmp_path / "f")
    trained = sorted(p.parent.parent.name for p in (tmp_path / "f").glob("*/seed-0/result.json"))
    assert trained == sorted([Y.arch_id, PLAIN.arch_id, *(s.arch_id for s in want.values())])  # not Z's matches
    for kind, spec in want.items():
        row = json.loads((tmp_path / "f" / spec.arch_id / "seed-0" / "result.json").read_text())
        assert (row["role"]["matched"], row["role"]["matches"], row["role"]["front_index"]) == (kind, Y.arch_id, None)
        assert f"{spec.arch_id} {kind} match of `{Y.arch_id}`" in log  # the roles line
        assert ArchSpec.from_dict(row["spec"]).sharing_summary() == "none"
    table = (tmp_path / "f" / "final_results.md").read_text()
    for kind, spec in want.items():
        assert f"| `{Y.arch_id}` front #0 | {kind} match `{spec.arch_id}` | " in table
    assert "does sharing beat simply shrinking the net?" in table


def test_matched_alone_takes_the_whole_front_and_needs_the_plain_baseline(tmp_path):
    from nas.retrain.jobs import from_pareto
    from nas.space.problems import SpaceError

    pareto = _export(tmp_path / "p.yaml", 12, [Y, Z], plain_rank=3)
    matched = from_pareto(pareto, "shallower")
    assert {a.role["matches"] for a in matched} <= {Y.arch_id, Z.arch_id} and all(a.role["matched"] == "shallower"
                                                                                    for a in matched)
    assert {a.key for a in matched}.isdisjoint({Y.arch_id, Z.arch_id})
    doc = yaml.safe_load(pareto.read_text())
    del doc["baselines"]
    pareto.write_text(yaml.safe_dump(doc))
    with pytest.raises(SpaceError, match=r"p\.yaml: --select matched: this export has no plain baseline"):
        from_pareto(pareto, "all,matched")


def test_runners_up_from_an_export_without_them_is_a_one_line_error(tmp_path, capsys):
    pareto = _export(tmp_path / "p.yaml", 12, [Z, X], plain_rank=1)
    code = final_main(["--pareto", str(pareto), "--select", "runners-up", "--out", str(tmp_path / "f")], "doc")
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "lists no net of rank 2" in err


def test_the_ranking_check_states_the_retrainings_own_agreement_between_seeds():
    # Retraining's seed noise caps how well any score can rank close nets; the section states
    # that cap from the nets with two seeds (first seed against second), and only from those.
    from nas.retrain import ranking

    export = Export("search", 8, ("a", "b", "c", "d"))

    def net(name, score, accs):
        role = Role(0, 1, None, export, search=Score(score, None, 1, "train_acc"))
        return [{"parsed_role": role, "label": name, "seed": s, "test_acc": a} for s, a in enumerate(accs)]

    # seed 1 orders a > b > c > d as seed 0 does except for c and d swapped: Spearman 0.8
    groups = [net("a", 0.70, [0.90, 0.91]), net("b", 0.71, [0.80, 0.81]), net("c", 0.72, [0.70, 0.60]),
              net("d", 0.73, [0.65, 0.66]), net("e", 0.69, [0.99])]
    text = ranking.markdown(groups)
    assert "over the 4 nets with two): Spearman 0.80, Kendall tau 0.67." in text, text
    assert "Over the 5 nets retrained from this search" in text
    # fewer than 3 nets with two seeds: no such line
    assert "against itself" not in ranking.markdown([g[:1] for g in groups[:3]] + groups[3:])
