import pytest

from sharesnet import masks as M


def test_constructors():
    assert M.none(4) == (0, 1, 2, 3)
    assert M.stage(4) == (0, 0, 0, 0)
    assert M.stage(4, skip_first=True) == (0, 1, 1, 1)
    assert M.ranges(6, [2, 4]) == (0, 0, 1, 1, 2, 2)
    assert M.ranges(3, []) == (0, 0, 0)
    assert M.sequence(5, 2) == (0, 0, 1, 1, 2)
    assert M.cycle(6, 3) == (0, 1, 2, 0, 1, 2)


def test_canonical_relabels_by_first_appearance():
    assert M.canonical((7, 7, 3, 7, 5)) == (0, 0, 1, 0, 2)
    assert M.canonical(M.cycle(4, 2)) == M.canonical((9, 4, 9, 4))


@pytest.mark.parametrize("bad", [[0], [6], [-1]])
def test_ranges_rejects_cuts_outside(bad):
    with pytest.raises(ValueError, match="cut points"):
        M.ranges(6, bad)


def test_groups_and_shared_count():
    assert M.groups((0, 1, 0)) == {0: [0, 2], 1: [1]}
    assert M.n_shared_groups((0, 1, 0, 2, 2)) == 2
    assert M.n_shared_groups(M.none(5)) == 0
