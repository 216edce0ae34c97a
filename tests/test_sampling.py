import optuna
import pytest

from nas.candidate import evaluate_costs
from nas.sampling import decode, encode, legalise, warm_start_specs
from nas.space import parse_space
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

    from nas.journal import Journal
    from nas.searcher import ShareSearch
    from nas.space import parse_space

    raw = {"base": {"preset": "cifar_resnet20"}, "vary": {"depth": [1, 2, 3]}, "sampler": {"name": sampler}}
    space = parse_space(raw)
    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'optuna.db'}")

    def proposals() -> list[str]:  # a new searcher on the same study, as --resume makes
        study = ShareSearch(space, Journal(tmp_path), storage, trial_config=lambda c: {}).study
        return [decode(study.ask(), space).arch_id for _ in range(3)]

    first, again = proposals(), proposals()
    assert first != again
