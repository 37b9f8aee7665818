"""Which rows of a batched forward a plan perturbs (host-free)."""


def test_batched_rows_only_for_perturbed_entry(pack):
    plan_mod = pack("core.plan")
    per_layer = plan_mod.layer_perturbations([(3, 1, 1.0), (3, 2, 0.5), (4, 0, 1.0), (5, 5, 0.0)])
    assert set(per_layer) == {3, 4}  # u = 0 is no perturbation
    plan = plan_mod.PerturbationPlan({2: per_layer})
    # cond, uncond, perturbed with 2 latents each: only rows 4-5 are perturbed.
    (target,) = plan.targets(3, [0, 1, 2], 6)
    assert target[:2] == (4, 6) and target[2].heads == (1, 2) and target[2].u == (1.0, 0.5)
    assert plan.targets(3, [0, 1], 4) == []
    assert plan.targets(7, [0, 1, 2], 3) == []


def test_several_candidates_side_by_side(pack):
    plan_mod = pack("core.plan")
    a = plan_mod.layer_perturbations([(1, 0, 1.0)])
    b = plan_mod.layer_perturbations([(1, 3, 1.0)])
    plan = plan_mod.PerturbationPlan({0: a, 1: b, 2: a})
    targets = plan.targets(1, [0, 1, 2], 3)
    assert [(t[0], t[1], t[2].heads) for t in targets] == [(0, 1, (0,)), (1, 2, (3,)), (2, 3, (0,))]


def test_adjacent_rows_of_one_entry_merge(pack):
    plan_mod = pack("core.plan")
    plan = plan_mod.PerturbationPlan({0: plan_mod.layer_perturbations([(0, 0, 1.0)])})
    assert [(t[0], t[1]) for t in plan.targets(0, None, 4)] == [(0, 4)]
