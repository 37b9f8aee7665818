"""Running the pack's engine node in host tests (host and hh are the conftest fixtures)."""

TOKENS_ALL = "all tokens (paper)"


def patch(host, hh, model, heads, scale=3.0, u=1.0, tokens=TOKENS_ALL, **kw):
    node = host("nodes.perturbed_attention").HeadHunterPerturbedAttention
    args = dict(model=model, heads=heads, scale=scale, softpag_u=u, start_percent=0.0, end_percent=1.0,
                rescale=0.0, perturb_tokens=tokens)
    args.update(kw)
    return hh.run_node(node, **args)[0]
