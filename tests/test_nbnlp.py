"""NAS-Bench-NLP space: codec and canonical form against an isomorphism oracle, validity rules, the generator's
rules, sampling, neighbours, parameter counts against the benchmark's files, and the network's forward against
hand-unrolled computations (a tanh RNN; an LSTM written as a recipe against torch.nn.LSTMCell)."""

from __future__ import annotations

import itertools
import json

import networkx as nx
import numpy as np
import pytest
import torch

from zcnas.data.paths import data_file
from zcnas.proxies.size import count_flops
from zcnas.spaces import get_space, nbnlp
from zcnas.spaces.nbnlp_model import NBNLPNetwork, RecipeLayer, WeightDropLinear

RNN = {"f": {"op": "linear", "input": ["x", "h_prev_0"]}, "h_new_0": {"op": "activation_tanh", "input": ["f"]}}
NO_DROPOUT = dict(dropout=0.0, dropouth=0.0, dropouti=0.0, dropoute=0.0, wdrop=0.0)


@pytest.fixture(scope="module")
def wt2_runs():
    with open(data_file("nbnlp/nbnlp_wikitext2_runs.json", "the NB-NLP WikiText-2 runs"), encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="module")
def ptb_runs():
    with open(data_file("nbnlp/nbnlp_ptb_239_runs.json", "the NB-NLP PTB runs"), encoding="utf-8") as f:
        return json.load(f)


# --- canonical form ------------------------------------------------------------------------------------------


def _rename(recipe: dict, rng: np.random.Generator) -> dict:
    """The same graph written differently: inner nodes renamed, keys reordered, commutative inputs permuted."""
    inner = [n for n in recipe if not n.startswith("h_new_")]
    names = {n: f"v{i}" for n, i in zip(inner, rng.permutation(len(inner)))}
    out = {}
    for node in [list(recipe)[i] for i in rng.permutation(len(recipe))]:
        inputs = [names.get(s, s) for s in recipe[node]["input"]]
        if recipe[node]["op"] != "blend":
            inputs = [inputs[i] for i in rng.permutation(len(inputs))]
        out[names.get(node, node)] = {"op": recipe[node]["op"], "input": inputs}
    return out


def test_renamed_recipes_share_one_canonical_form(wt2_runs):
    rng = np.random.default_rng(0)
    for run in wt2_runs:
        code = nbnlp.encode(run["recipe"])
        assert nbnlp.encode(_rename(run["recipe"], rng)) == code
        assert nbnlp.encode(json.dumps(run["recipe"])) == code          # its JSON text
        assert nbnlp.encode(nbnlp.decode(code)) == code and nbnlp.encode(code) == code


def _graph(recipe: dict) -> nx.DiGraph:
    g = nx.DiGraph()
    for node, spec in recipe.items():
        g.add_node(node, label=spec["op"] + ("|" + node if node.startswith("h_new_") else ""))
        for position, source in enumerate(spec["input"]):
            if source not in recipe:
                g.add_node(source, label=source)
            g.add_edge(source, node, pos=position if spec["op"] == "blend" else -1)
    return g


def test_equal_strings_exactly_when_the_graphs_are_isomorphic():
    """Oracle: networkx's labelled isomorphism on sampled small cells and their neighbours."""
    rng = np.random.default_rng(1)
    recipes = [nbnlp.sample_recipe(rng, hidden_states=int(rng.integers(1, 3)), intermediate=7) for _ in range(6)]
    pool = [nbnlp.decode(c) for r in recipes for c in [nbnlp.encode(r)] + nbnlp.neighbours(r)[:6]]
    pool += [_rename(r, rng) for r in pool[:10]]
    node_match = nx.algorithms.isomorphism.categorical_node_match("label", None)
    edge_match = nx.algorithms.isomorphism.categorical_edge_match("pos", None)
    codes = [nbnlp.encode(r) for r in pool]
    graphs = [_graph(r) for r in pool]
    for i, j in itertools.combinations(range(len(pool)), 2):
        iso = nx.is_isomorphic(graphs[i], graphs[j], node_match=node_match, edge_match=edge_match)
        assert (codes[i] == codes[j]) == iso, (codes[i], codes[j])


def test_symmetric_nodes_are_canonicalised_by_search():
    """Two interchangeable branches (only individualisation separates them): every labelling, one string."""
    twin = {"a": {"op": "linear", "input": ["x", "h_prev_0"]}, "b": {"op": "linear", "input": ["x", "h_prev_0"]},
            "ta": {"op": "activation_tanh", "input": ["a"]}, "tb": {"op": "activation_tanh", "input": ["b"]},
            "h_new_0": {"op": "elementwise_prod", "input": ["ta", "tb"]}}
    rng = np.random.default_rng(2)
    codes = {nbnlp.encode(_rename(twin, rng)) for _ in range(20)}
    assert len(codes) == 1
    (code,) = codes
    assert code == "lin(x,h0);tanh(0);lin(x,h0);tanh(2);prod(1,3)>0"   # pinned: stores are keyed by it
    assert nbnlp.encode(nbnlp.decode(code)) == code
    gated = {"a": twin["a"], "b": twin["b"], "sa": {"op": "activation_sigm", "input": ["a"]},
             "tb": twin["tb"], "h_new_0": {"op": "blend", "input": ["sa", "tb", "h_prev_0"]}}
    swapped = {**gated, "h_new_0": {"op": "blend", "input": ["tb", "sa", "h_prev_0"]}}
    assert nbnlp.encode(swapped) != nbnlp.encode(gated)                # blend's inputs are ordered
    commuted = {**twin, "h_new_0": {"op": "elementwise_prod", "input": ["tb", "ta"]}}
    assert nbnlp.encode(commuted) == code                             # prod's are not


def test_the_benchmark_trained_some_graphs_twice(wt2_runs):
    codes = [nbnlp.encode(r["recipe"]) for r in wt2_runs]
    assert len(set(codes)) == 236
    by_id = {r["recepie_id"]: c for r, c in zip(wt2_runs, codes)}
    assert by_id[1000000] == by_id[1003080] == "lin(x,h0);tanh(0)>0"


def test_short_id_and_size_key():
    assert nbnlp.short_id(RNN) == nbnlp.short_id("lin(h0,x);tanh(0)>0") and len(nbnlp.short_id(RNN)) == 12
    assert nbnlp.size_key("lin(x,h0);tanh(0);lin(h0,1);sigm(2)>0") == "2,1,3"


# --- validity ------------------------------------------------------------------------------------------------

BAD = [
    ({"h_new_0": {"op": "conv", "input": ["x"]}}, "unknown op 'conv'"),
    ({"h_new_0": {"op": "blend", "input": ["x", "h_prev_0"]}}, r"\(blend\) takes exactly 3 input\(s\); it has 2"),
    ({"f": {"op": "linear", "input": ["x"]}, "g": {"op": "activation_tanh", "input": ["f"]}}, "no h_new_0"),
    ({"f": {"op": "linear", "input": ["x", "h_prev_0"]}, "h_new_1": {"op": "activation_tanh", "input": ["f"]}},
     "h_new_0 is missing"),
    ({"f": {"op": "linear", "input": ["x", "h_prev_1"]}, "h_new_0": {"op": "activation_tanh", "input": ["f"]}},
     "reads 'h_prev_1', which does not exist"),
    ({"f": {"op": "linear", "input": ["x", "g"]}, "h_new_0": {"op": "activation_tanh", "input": ["f"]}},
     "reads 'g', which does not exist"),
    ({"h_new_0": {"op": "activation_tanh", "input": ["x"]}}, r"\(activation_tanh\) reads x; only linear nodes"),
    ({"f": {"op": "linear", "input": ["h_prev_0"]}, "h_new_0": {"op": "activation_tanh", "input": ["f"]}},
     "no node reads x"),
    ({"f": {"op": "linear", "input": ["x", "g"]}, "g": {"op": "activation_tanh", "input": ["f"]},
      "h_new_0": {"op": "activation_sigm", "input": ["g"]}}, "it has a cycle: (f -> g -> f|g -> f -> g)"),
    ({**RNN, "dead": {"op": "linear", "input": ["x"]}}, "node 'dead' feeds no h_new_i"),
    ({"x": {"op": "linear", "input": ["h_prev_0"]}, **RNN}, "'x' is an input of the cell"),
    ("lin(x,h0);tanh(3)>0", "input '3' of part 1"),
    ("lin(x,h0);tanh(0)>0;sigm(0)>0", "marks h_new_0 twice"),
    ("conv(x)>0", "should read op\\(inputs\\)"),
    ("{not json", "the JSON does not parse"),
    (42, "expected a non-empty dict"),
]


@pytest.mark.parametrize("recipe, message", BAD)
def test_each_rule_has_its_own_error(recipe, message):
    with pytest.raises(ValueError, match=message):
        nbnlp.encode(recipe)
    assert not get_space("nbnlp").is_valid(recipe)


def test_generator_rules(wt2_runs):
    broken = {r["recepie_id"]: nbnlp.generator_violations(r["recipe"]) for r in wt2_runs}
    assert {rid for rid, v in broken.items() if v} == {1000001, 1000002}     # the hand-written LSTM and GRU
    assert broken[1000002] == ["h_tilde (linear) reads rh (elementwise_prod), not x, h_prev or an activation",
                               "h_new_0 reads h_prev_0 directly"]
    assert nbnlp.generator_violations("lin(x,h0);tanh(0);lin(x,1);sum(0,2)>0") == []
    twice = {"f": {"op": "linear", "input": ["x", "x"]}, "h_new_0": {"op": "activation_tanh", "input": ["f"]}}
    assert nbnlp.generator_violations(twice) == ["f reads one input twice", "h_prev_0 is not used"]


# --- sampling and neighbours ---------------------------------------------------------------------------------


def test_sampling_is_seeded_distinct_and_keeps_the_generator_rules():
    space = get_space("nbnlp")
    cells = space.sample(40, np.random.default_rng(5))
    assert cells == space.sample(40, np.random.default_rng(5))
    assert len(set(cells)) == 40
    assert all(nbnlp.generator_violations(c) == [] for c in cells)
    states = {len([p for p in c.split(";") if ">" in p]) for c in cells}
    assert states == {1, 2, 3}


def test_neighbours_are_valid_distinct_single_edits():
    assert nbnlp.neighbours(RNN) == ["lin(x,h0);sigm(0)>0", "lin(x,h0);lrelu(0)>0"]
    cell = nbnlp.encode(nbnlp.sample_recipe(np.random.default_rng(3), hidden_states=2, intermediate=7))
    found = nbnlp.neighbours(cell)
    assert found and len(set(found)) == len(found) and cell not in found
    a = nbnlp.decode(cell)
    ops_a = sorted(spec["op"] for spec in a.values())
    for other in found:
        assert nbnlp.generator_violations(other) == []
        b = nbnlp.decode(other)
        # one edit: same nodes and edges; at most one op differs
        assert len(b) == len(a)
        assert sum(len(v["input"]) for v in b.values()) == sum(len(v["input"]) for v in a.values())
        ops_b = sorted(spec["op"] for spec in b.values())
        assert sum(abs(ops_a.count(op) - ops_b.count(op)) for op in nbnlp.OPS) in (0, 2)
    assert get_space("nbnlp").mutate(cell, np.random.default_rng(0)) in found


# --- parameter counts against the benchmark ------------------------------------------------------------------


def test_parameter_counts_match_every_wikitext2_run(wt2_runs):
    with torch.device("meta"):  # the same construction, without drawing 13M random weights per model
        for run in wt2_runs:
            net = nbnlp.build_model(run["recipe"], num_classes=33278)
            assert sum(p.numel() for p in net.parameters()) == run["num_params"], run["recepie_id"]


def test_parameter_counts_match_every_ptb_run(ptb_runs):
    with torch.device("meta"):
        for run in ptb_runs:
            net = get_space("nbnlp").build_model(nbnlp.encode(run["recipe"]), num_classes=10000)
            assert sum(p.numel() for p in net.parameters()) == run["ptb_trainable_params"], run["recepie_id"]


def test_a_real_build_has_the_same_count_and_tied_weights(wt2_runs):
    net = nbnlp.build_model(wt2_runs[0]["recipe"], num_classes=33278, seed=0)
    assert sum(p.numel() for p in net.parameters()) == wt2_runs[0]["num_params"] == 15066078
    assert net.decoder.weight is net.embedding.weight and float(net.decoder.bias.detach().abs().sum()) == 0.0


def test_equal_size_keys_give_equal_params_and_flops(wt2_runs):
    groups: dict[str, set[tuple[int, int]]] = {}
    for run in wt2_runs[:120]:
        net = nbnlp.build_model(run["recipe"], num_classes=13, emsize=3, nhid=4, seed=0)
        count = (sum(p.numel() for p in net.parameters()), count_flops(net, (5,), dtype=torch.long))
        groups.setdefault(nbnlp.size_key(run["recipe"]), set()).add(count)
    assert all(len(v) == 1 for v in groups.values())
    assert len(groups) > 10


# --- the network ---------------------------------------------------------------------------------------------


def test_forward_of_a_tanh_rnn_matches_the_hand_unrolled_computation():
    net = nbnlp.build_model(RNN, num_classes=7, emsize=3, nhid=4, nlayers=2, seed=3, **NO_DROPOUT)
    tokens = torch.tensor([[1, 5, 2, 6], [0, 0, 3, 1]])
    got = net(tokens)
    E = net.embedding.weight
    h_in = E[tokens]                                                 # (batch, time, 3)
    for layer in net.layers:
        wx, wh = layer.cell.linears["node_0"]                        # canonical: lin(x,h0) -> x first, bias on x
        h = torch.zeros(tokens.shape[0], wh.weight.shape[0])
        outs = []
        for t in range(tokens.shape[1]):
            h = torch.tanh(h_in[:, t] @ wx.weight.T + wx.bias + h @ wh.weight.T)
            outs.append(h)
        h_in = torch.stack(outs, 1)
    want = h_in @ E.T + net.decoder.bias
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    assert got.shape == (2, 4, 7)


LSTM = [
    ("i", "linear", ("x", "h_prev_0")), ("f", "linear", ("x", "h_prev_0")),
    ("g", "linear", ("x", "h_prev_0")), ("o", "linear", ("x", "h_prev_0")),
    ("i_act", "activation_sigm", ("i",)), ("f_act", "activation_sigm", ("f",)),
    ("g_act", "activation_tanh", ("g",)), ("o_act", "activation_sigm", ("o",)),
    ("keep", "elementwise_prod", ("f_act", "h_prev_1")), ("write", "elementwise_prod", ("i_act", "g_act")),
    ("h_new_1", "elementwise_sum", ("keep", "write")), ("c_act", "activation_tanh", ("h_new_1",)),
    ("h_new_0", "elementwise_prod", ("o_act", "c_act")),
]


def test_an_lstm_written_as_a_recipe_matches_torch_lstmcell():
    torch.manual_seed(0)
    ref = torch.nn.LSTMCell(3, 5)
    layer = RecipeLayer(LSTM, input_size=3, hidden_size=5)
    with torch.no_grad():
        for gate, rows in zip("ifgo", torch.arange(20).view(4, 5)):  # LSTMCell stacks the gates i, f, g, o
            wx, wh = layer.cell.linears[gate]
            wx.weight.copy_(ref.weight_ih[rows])
            wh.weight.copy_(ref.weight_hh[rows])
            wx.bias.copy_(ref.bias_ih[rows] + ref.bias_hh[rows])     # the recipe's one bias
    x = torch.randn(2, 6, 3)
    h = c = torch.zeros(2, 5)
    outs = []
    for t in range(6):
        h, c = ref(x[:, t], (h, c))
        outs.append(h)
    torch.testing.assert_close(layer(x), torch.stack(outs, 1), rtol=1e-5, atol=1e-6)
    # the same cell through the codec gives the same string as the benchmark would store it
    recipe = {name: {"op": op, "input": list(ins)} for name, op, ins in LSTM}
    assert nbnlp.generator_violations(recipe)                         # hand-written, like the benchmark's LSTM


def test_weight_drop_draws_one_mask_per_sequence():
    net = nbnlp.build_model(RNN, num_classes=7, emsize=3, nhid=4, nlayers=1, seed=0, wdrop=0.5)
    dropped = [m for m in net.modules() if isinstance(m, WeightDropLinear)]
    assert len(dropped) == 1 and dropped[0].weight.shape == (3, 3)   # h_prev_0's weight; x's is never dropped
    seen = []
    dropped[0].register_forward_hook(lambda m, i, o: seen.append(m._sequence_weight))
    net.train()
    net(torch.tensor([[1, 2, 3, 4, 5]]))
    assert len(seen) == 5 and all(w is seen[0] for w in seen) and not torch.equal(seen[0], dropped[0].weight)
    assert dropped[0]._sequence_weight is None
    net.eval()
    seen.clear()
    net(torch.tensor([[1, 2, 3]]))
    assert seen == [None, None, None]


def test_dropouts_act_only_in_training():
    net = nbnlp.build_model(RNN, num_classes=9, emsize=4, nhid=5, seed=0, dropoute=0.3)
    tokens = torch.tensor([[1, 2, 3, 4], [5, 6, 7, 8]])
    net.eval()
    a, b = net(tokens), net(tokens)
    assert torch.equal(a, b)
    net.train()
    with torch.random.fork_rng():
        torch.manual_seed(0)
        c = net(tokens)
        torch.manual_seed(0)
        d = net(tokens)
    assert torch.equal(c, d) and not torch.allclose(a, c)
    plain = nbnlp.build_model(RNN, num_classes=9, emsize=4, nhid=5, seed=0, **NO_DROPOUT).train()
    torch.testing.assert_close(plain(tokens), a)


def test_seeded_init_leaves_global_state_alone():
    before = torch.get_rng_state()
    a = nbnlp.build_model(RNN, num_classes=11, emsize=3, nhid=4, seed=7)
    b = nbnlp.build_model(RNN, num_classes=11, emsize=3, nhid=4, seed=7)
    assert torch.equal(torch.get_rng_state(), before)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    bound = 1 / 4 ** 0.5
    layer_weights = torch.cat([p.flatten() for p in a.layers[0].parameters()])
    assert float(layer_weights.abs().max()) <= bound


def test_the_registered_space():
    space = get_space("nbnlp")
    assert (space.input_shape, space.input_dtype, dict(space.datasets)) == ((70,), "long", {"ptb": 10000,
                                                                                           "wikitext2": 33278})
    assert space.check_options({"wdrop": 0})["dropouti"] == 0.4
    with pytest.raises(ValueError, match="dropout=1.0 is not allowed; use a dropout rate in"):
        space.build_model("lin(x,h0);tanh(0)>0", 10, dropout=1.0)
    with pytest.raises(ValueError, match="token ids of shape"):
        nbnlp.build_model(RNN, num_classes=5, emsize=2, nhid=2)(torch.zeros(2, 3))
    assert space.decode("lin(h0,x);tanh(0)>0") == "lin(x,h0);tanh(0)>0"
    assert nbnlp.plan("lin(x,h0);tanh(0)>0") == [("node_0", "linear", ("x", "h_prev_0")),
                                                ("h_new_0", "activation_tanh", ("node_0",))]
    assert isinstance(space.build_model("lin(x,h0);tanh(0)>0", 10, emsize=2, nhid=2), NBNLPNetwork)
