"""The shared render settings and helpers: one validation, keyword options in step with the dataclass,
noise maps put in place and taken out again, eval mode restored."""

import dataclasses

import pytest
import torch

from stylegan2_ada.errors import UserError
from stylegan2_ada.tools.render import (
    RenderOptions,
    RenderSettings,
    batches,
    eval_mode,
    noise_maps,
    render_settings,
    seed_noise,
    shared_noise,
)
from stylegan2_ada.tools.seeds import noise_map_resolutions


@pytest.fixture(scope="module")
def G(make_generator):
    return make_generator()


def test_keyword_options_name_every_setting():
    fields = {f.name: f.type for f in dataclasses.fields(RenderSettings)}
    # TypedDict keeps the string annotations as ForwardRefs.
    options = {name: getattr(ref, "__forward_arg__", ref) for name, ref in RenderOptions.__annotations__.items()}
    assert options == fields


def test_options_replace_fields_of_the_settings():
    base = RenderSettings(truncation_psi=0.5, batch_size=3)
    assert render_settings() == RenderSettings()
    assert render_settings(base) is base
    assert render_settings(base, noise_mode="seed") == RenderSettings(
        truncation_psi=0.5, batch_size=3, noise_mode="seed"
    )
    assert RenderSettings(0.7).truncation_psi == 0.7  # export's positional form
    with pytest.raises(TypeError):
        render_settings(base, trunc=0.5)


def test_check_refuses_with_the_callers_words():
    assert RenderSettings().check(("const",)) == RenderSettings()
    with pytest.raises(UserError, match=r"^noise mode 'loud' unknown: choose one of const, none$"):
        RenderSettings(noise_mode="loud").check(("const", "none"))
    with pytest.raises(UserError, match=r"^noise mode 'random' is not reproducible: choose one of const$"):
        RenderSettings(noise_mode="random").check(
            ("const",), "noise mode {mode!r} is not reproducible: choose one of {modes}"
        )
    with pytest.raises(UserError, match=r"^--batch-size=0: must be at least 1$"):
        RenderSettings(batch_size=0).check(("const",))


def test_drawn_noise_runs_through_the_networks_const_path():
    assert RenderSettings(noise_mode="seed").network_noise_mode == "const"
    assert RenderSettings(noise_mode="fixnoise").network_noise_mode == "const"
    assert RenderSettings(noise_mode="random").network_noise_mode == "random"


def test_batches_cover_the_sequence():
    assert [(s, list(c)) for s, c in batches([1, 2, 3, 4, 5], 2)] == [(0, [1, 2]), (2, [3, 4]), (4, [5])]


def test_seed_noise_shapes_and_restored_buffers(G):
    resolutions = noise_map_resolutions(G)
    per_seed = seed_noise(G, [3, 4], "seed")
    assert [tuple(m.shape) for m in per_seed] == [(2, 1, r, r) for r in resolutions]
    assert torch.equal(per_seed[0][1, 0], shared_noise(G, 4)[0])  # a seed's own maps, in the batch
    assert [tuple(m.shape) for m in seed_noise(G, [], "fixnoise")] == [(r, r) for r in resolutions]
    assert seed_noise(G, [3], "const") is None
    before = G.synthesis.b4.conv1.noise_const.clone()
    with noise_maps(G, per_seed):
        assert G.synthesis.b4.conv1.noise_const.shape == (2, 1, 4, 4)
    assert torch.equal(G.synthesis.b4.conv1.noise_const, before)


def test_eval_mode_restores_training(G):
    G.train()
    with eval_mode(G):
        assert not G.training and torch.is_inference_mode_enabled()
    assert G.training
    G.eval()
