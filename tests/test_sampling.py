import optuna
import pytest

from nas.search.candidate import evaluate_costs
from nas.space.codec import decode, encode, legalise, warm_start_specs
from nas.space.parse import parse_space
from sharesnet import build_model, count_params, get_spec
from sharesnet import masks as M

SPACE = {"data": {"dataset": "digits"}, "base": {"preset": "cifar_resnet20"},
         "vary": {"depth": [1, 2, 3, 4], "width_mult": [0.5, 1.0], "sharing": {"k": [2, 3]}},
         "constraints": {"max_params": 200000}, "trials": 5}


def test_random_trials_decode_to_valid_specs_and_encode_back():
    space = parse_space(SPACE, "s.yaml")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(60):
        spec = decode(study.ask(), space)
        build_model(spec)  # every decoded spec builds
        params = encode(spec, space)
        assert params is not None and decode(_Fixed(params), space) == spec
        seen.add(spec.arch_id)
    assert len(seen) > 40  # the space is rich: random trials rarely repeat


class _Fixed:
    def __init__(self, p):
        self.p = p

    def suggest_categorical(self, name, choices):
        assert self.p[name] in choices
        return self.p[name]


def test_warm_starts_are_plain_and_paper():
    space = parse_space(SPACE, "s.yaml")
    specs = warm_start_specs(space)
    assert specs["plain"] == get_spec("cifar_resnet20", in_channels=1).unshared()
    assert specs["paper"].stages[0].mask(1) == M.stage(3, skip_first=True)
    assert all(encode(s, space) is not None for s in specs.values())


def test_encode_none_when_space_cannot_express():
    space = parse_space({**SPACE, "vary": {"depth": [1, 2]}}, "s.yaml")
    assert encode(get_spec("cifar_resnet20", in_channels=1), space) is None  # depth 3 not allowed


def test_legalise_splits_groups_by_shape():
    spec = get_spec("cifar_resnet20")  # stage 2 block 0 conv1 reads 16 channels, others 32
    assert legalise(spec, 1, 0, M.stage(3)) == (0, 1, 1)
    assert legalise(spec, 1, 1, M.stage(3)) == (0, 0, 0)


def test_constraints_checked_from_build_time_costs():
    space = parse_space(SPACE, "s.yaml")
    big = evaluate_costs(get_spec("cifar_resnet20", in_channels=1), space)
    assert big.params == count_params(build_model(big.spec)) and big.flops > 0
    assert big.violations and "max_params" in big.violations[0] and big.constraint_values[0] > 0


@pytest.mark.parametrize("sampler", ["nsga2", "tpe", "random"])
def test_a_resumed_search_does_not_replay_the_first_runs_proposals(tmp_path, sampler):
    # A seeded sampler restarted on the same study used to propose the first run's
    # candidates again (seen on CIFAR-10: the first three proposals after --resume were
    # the three trainings the stop had cut off), each a wasted, reused proposal.
    import optuna

    from nas.search.journal import Journal
    from nas.search.searcher import ShareSearch
    from nas.space.parse import parse_space

    raw = {"base": {"preset": "cifar_resnet20"}, "vary": {"depth": [1, 2, 3]}, "sampler": {"name": sampler}}
    space = parse_space(raw)
    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'optuna.db'}")

    def proposals() -> list[str]:  # a new searcher on the same study, as --resume makes
        study = ShareSearch(space, Journal(tmp_path), storage, trial_config=lambda c: {}).study
        return [decode(study.ask(), space).arch_id for _ in range(3)]

    first, again = proposals(), proposals()
    assert first != again


@pytest.mark.parametrize("sampler", ["nsga2", "nsga3", "tpe", "gp", "qmc", "random"])
def test_ray_can_pickle_the_searcher_whatever_its_sampler(tmp_path, sampler):
    # Ray Tune pickles its configuration, searcher included, when a run starts; Optuna 5.1's
    # NSGA-II sampler holds a thread lock, and every nsga2 search failed there at once.
    from ray import cloudpickle

    from nas.search.journal import Journal
    from nas.search.searcher import ShareSearch
    from nas.space.parse import parse_space

    space = parse_space({"base": {"preset": "cifar_resnet20"}, "vary": {"depth": [1, 2]}, "sampler": {"name": sampler}})
    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'optuna.db'}")
    searcher = ShareSearch(space, Journal(tmp_path), storage, trial_config=lambda c: {})
    assert cloudpickle.loads(cloudpickle.dumps(searcher)) is None  # a stand-in: resume is the database


QUICK = {"data": {"dataset": "digits"}, "base": {"preset": "cifar_resnet20"},
         "vary": {"depth": [2, 3, 4], "sharing": {"positions": ["conv1", "conv2"], "k": [2, 3]}}}


@pytest.mark.parametrize("sampler", ["nsga2", "tpe"])
def test_fixed_encoding_asks_every_parameter_of_every_trial(sampler):
    # Optuna's NSGA-II and TPE model only the intersection search space of the finished trials;
    # conditional cuts and k fall outside it and are drawn at random. Under `fixed` nothing does.
    from optuna.search_space import intersection_search_space

    names = {}
    for encoding in ("fixed", "conditional"):
        space = parse_space({**QUICK, "sampler": {"name": sampler, "encoding": encoding}})
        study = optuna.create_study(directions=["maximize"], sampler=optuna.samplers.RandomSampler(seed=1))
        for i in range(30):
            t = study.ask()
            decode(t, space)
            study.tell(t, [float(i)])
        inside = set(intersection_search_space(study.get_trials(deepcopy=False)))
        sampled = [n for t in study.trials for n in t.params]
        names[encoding] = (len({n for n in sampled}), sum(n not in inside for n in sampled) / len(sampled))
    total, outside = names["fixed"]
    assert outside == 0.0 and total == 3 + 3 * 2 * (1 + 1 + 3)  # depths; per stage x position: share, k, 3 cuts
    assert names["conditional"][1] > 0.05  # what the old encoding left to chance


def test_both_encodings_reach_the_same_architectures():
    fixed = parse_space({**QUICK, "sampler": {"encoding": "fixed"}})
    conditional = parse_space({**QUICK, "sampler": {"encoding": "conditional"}})
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(80):
        spec = decode(study.ask(), conditional)
        for space in (fixed, conditional):
            params = encode(spec, space)
            assert params is not None and decode(_Fixed(params), space) == spec
            asked = _Recorder(params)
            decode(asked, space)
            assert asked.names == set(params)  # encode gives exactly the parameters decode asks for
    # the shallow stage's unused cut genes are still asked under `fixed`
    assert "s1.conv1.cut3" in encode(get_spec("cifar_resnet20", in_channels=1).unshared(), fixed)


class _Recorder(_Fixed):
    def __init__(self, p):
        super().__init__(p)
        self.names = set()

    def suggest_categorical(self, name, choices):
        self.names.add(name)
        return super().suggest_categorical(name, choices)


@pytest.mark.parametrize("repeats", ["resample", "reuse"])
def test_repeats_are_resampled_not_told_again(tmp_path, repeats):
    # Two shareable positions of two blocks: a handful of architectures, so a random sampler
    # repeats itself soon. Under `resample` a repeat is closed as FAIL (the samplers skip it)
    # and the sampler asked again; under `reuse` (the old way) it took a sampler slot.
    from nas.search.journal import Journal
    from nas.search.searcher import ShareSearch

    raw = {"data": {"dataset": "digits"},
           "base": {"spec": {"stem_width": 8, "stages": [{"depth": 2, "width": 8, "stride": 1},
                                                         {"depth": 2, "width": 16, "stride": 2}]}},
           "vary": {"sharing": {"positions": ["conv2"], "patterns": ["none", "stage"]}},
           "sampler": {"name": "random", "seed": 0, "repeats": repeats}, "trials": 4}
    space = parse_space(raw)
    journal = Journal(tmp_path)
    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'optuna.db'}")
    searcher = ShareSearch(space, journal, storage, trial_config=lambda c: {"arch_id": c.arch_id}, log=lambda m: None)
    trained = []
    for i in range(4):
        config = searcher.suggest(f"t{i}")
        if not isinstance(config, dict):
            break
        trained.append(config["arch_id"])
        searcher.on_trial_complete(f"t{i}", {"status": "ok", "val_acc": 0.5 + i / 10, "epoch": 1})
    complete = [t.user_attrs["arch_id"] for t in searcher.study.trials if t.state.name == "COMPLETE"]
    repeats_told = len(complete) - len(set(complete))
    rows = journal.rows
    assert len(set(trained)) == len(trained) == 4  # every training is a new architecture, either way
    if repeats == "resample":
        assert repeats_told == 0
        repeat_rows = [r for r in rows if r["status"] == "repeat"]
        assert repeat_rows and all(r["reused_from"] in {x["trial_id"] for x in rows} for r in repeat_rows)
        assert sum(t.state.name == "FAIL" for t in searcher.study.trials) == len(repeat_rows)
    else:
        assert repeats_told > 0 and not any(r["status"] == "repeat" for r in rows)


@pytest.mark.parametrize("vary,tag,says", [
    ({"depth": [1, 2]}, "plain", "its stage 1 has depth 3, which vary.depth does not offer there ([1, 2])"),
    ({"width_mult": [0.5]}, "plain", "no vary.width_mult choice (0.5) gives its widths 16-32-64"),
    ({"width": [[8], [32], [64]]}, "plain", "its stage 1 has width 16, which vary.width does not offer there ([8])"),
    ({"sharing": {"positions": ["conv1"]}}, "paper",
     "it shares s1.conv2=011, but vary.sharing.positions (conv1) leaves out conv2"),
    ({"sharing": {"stages": [1, 2]}}, "paper", "it shares s1.conv2=011, but vary.sharing.stages (1, 2, 0-based) "
                                               "leaves out 0"),
    ({"sharing": {"patterns": ["none", "stage", "cycle"]}}, "paper",
     "no pattern of vary.sharing.patterns (none, stage, cycle) gives its s1.conv2=011; add 'ranges' to "
     "vary.sharing.patterns"),
])
def test_a_warm_start_the_space_cannot_express_is_told_which_choice_is_missing(vary, tag, says):
    from nas.space.codec import missing_choice

    space = parse_space({**SPACE, "vary": vary, "constraints": {}}, "s.yaml")
    spec = warm_start_specs(space)[tag]
    assert encode(spec, space) is None and missing_choice(spec, space) == says


def test_the_search_journals_an_inexpressible_warm_start_so_the_export_says_why(tmp_path):
    # The export said "not evaluated (yet)" for a warm start the search knew it could not express.
    from nas.report.export import where_is
    from nas.run.driver import _enqueue_warm_starts
    from nas.search.journal import Journal

    space = parse_space({**SPACE, "vary": {"sharing": {"patterns": ["none", "stage"]}}, "constraints": {}}, "s.yaml")
    journal, lines = Journal(tmp_path), []
    study = optuna.create_study(directions=["maximize", "minimize"])
    _enqueue_warm_starts(study, space, lines.append, journal)
    assert len(study.trials) == 1  # the plain net only
    why = "the space cannot express it: no pattern of vary.sharing.patterns (none, stage) gives its s1.conv2=011"
    assert lines and lines[0].startswith(f"[search] warm start 'paper' skipped: {why}")
    assert where_is("paper", journal.rows, [], [], ["val_acc", "params"], ["max", "min"], ["plain", "paper"]) \
        .startswith(f"The paper's ShaResNet was not evaluated: {why}")
