from understudy_model.data import TARGET, fingerprint, load_ames, split_holdout


def test_the_real_ames_data():
    frame = load_ames()
    assert frame.shape == (2930, 74)  # 73 features + Sale_Price (R row names dropped)
    assert frame[TARGET].between(10_000, 800_000).all()


def test_split_is_seeded_and_disjoint():
    frame = load_ames()
    first, again, other = (split_holdout(frame, seed=s) for s in (42, 42, 7))
    assert first.holdout.equals(again.holdout)
    assert not first.holdout.equals(other.holdout)
    assert len(first.holdout) == 586 and len(first.train) == 2344
    assert fingerprint(first.train) == fingerprint(again.train)
    assert fingerprint(first.train) != fingerprint(other.train)


def test_fingerprint_sees_a_single_changed_value():
    frame = load_ames()
    changed = frame.copy()
    changed.loc[0, TARGET] += 1
    assert fingerprint(frame) != fingerprint(changed)
