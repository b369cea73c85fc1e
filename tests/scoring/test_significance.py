from promptloop.scoring.significance import pair, sign_test


def test_sign_test_exact_values():
    assert sign_test(0, 0) == 1.0
    assert sign_test(3, 0) == 1 / 8
    assert sign_test(5, 1) == (6 + 1) / 64
    assert sign_test(0, 5) == 1.0


def test_pair_classifies_cases():
    p = pair({"a": 1, "b": 1, "c": 0, "d": 0, "e": 1}, {"a": 1, "b": 0, "c": 1, "d": 0.3, "x": 1})
    assert (p.still_passing, p.regressed, p.fixed, p.still_failing) == (["a"], ["b"], ["c"], ["d"])
    assert p.n == 4 and p.delta == 0
