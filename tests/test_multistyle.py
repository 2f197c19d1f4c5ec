"""Several styles in one network: conditional instance norm, style mixing, multi-style training and export."""
import json
import logging
from pathlib import Path
import subprocess
import sys

import pytest
import torch

from stylenet.convert import script
from stylenet.export import load_transformer, read_metadata, save_stylizer
from stylenet.inference import load_stylizer
from stylenet.losses import PerceptualLoss
from stylenet.inference.styles import StyleError, choose, parse_mix
from stylenet.models import InstanceNorm, TransformerNet, one_hot

from conftest import ROOT, STYLES, run_here, run_train, tiny_overrides, train_in_process

NAMES = ["starry_night", "wave", "udnie"]


def _random_norms(net: TransformerNet) -> None:
    torch.manual_seed(1)
    for p in net.norm_parameters():
        p.data = torch.randn_like(p)


def _single_from(multi: TransformerNet, k: int) -> TransformerNet:
    """A one-style network with the shared weights of ``multi`` and its style ``k``'s norm parameters."""
    single = TransformerNet(multi.width, multi.num_res_blocks).eval()
    state = {key: (v[k:k + 1] if v.dim() == 2 and v.shape[0] == multi.num_styles else v)
             for key, v in multi.state_dict().items()}
    single.load_state_dict(state)
    return single


def test_conditional_norm_with_one_style_selected_is_that_style_s_plain_norm():
    multi = TransformerNet(8, 2, num_styles=3).eval()
    _random_norms(multi)
    x = torch.rand(2, 3, 24, 40)
    for k in range(3):
        torch.testing.assert_close(multi(x, one_hot(k, 3)), _single_from(multi, k)(x), rtol=1e-5, atol=1e-6)
    assert sum(p.numel() for p in multi.norm_parameters()) == 3 * sum(p.numel() for p in _single_from(multi, 0).norm_parameters())


def test_mix_weights_one_zero_equal_the_style_and_a_mix_interpolates_the_norms():
    multi = TransformerNet(8, 2, num_styles=2).eval()
    _random_norms(multi)
    x = torch.rand(1, 3, 32, 32)
    assert torch.equal(multi(x, torch.tensor([[1.0, 0.0]])), multi(x, one_hot(0, 2)))  # exactly
    mixed = _single_from(multi, 0)
    for p_mix, p_multi in zip(mixed.norm_parameters(), multi.norm_parameters()):
        p_mix.data = 0.3 * p_multi.data[0:1] + 0.7 * p_multi.data[1:2]
    torch.testing.assert_close(multi(x, torch.tensor([0.3, 0.7])), mixed(x), rtol=1e-5, atol=1e-6)
    y = multi(torch.rand(2, 3, 16, 16), torch.tensor([[1.0, 0.0], [0.0, 1.0]]))  # one style per sample
    assert y.shape == (2, 3, 16, 16)
    with pytest.raises(ValueError, match="holds 2 styles"):
        multi(x)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        multi(x, torch.ones(1, 3))


def test_single_style_files_from_before_conditional_norm_load_unchanged(tmp_path):
    old = TransformerNet(4, 1).eval()
    _random_norms(old)
    x = torch.rand(1, 3, 20, 20)
    legacy = {k: (v[0] if isinstance(dict(old.named_modules()).get(k.rsplit(".", 1)[0]), InstanceNorm) else v)
              for k, v in old.state_dict().items()}
    assert any(v.dim() == 1 and "2.weight" in k for k, v in legacy.items())  # (C,) as before
    fresh = TransformerNet(4, 1).eval()
    fresh.load_state_dict(legacy)
    torch.testing.assert_close(fresh(x), old(x))
    from safetensors.torch import save_file
    from stylenet.export import encode_metadata
    save_file({k: v.contiguous() for k, v in legacy.items()}, str(tmp_path / "old.safetensors"),
              metadata=encode_metadata({"format": "stylenet", "format_version": "1", "model": {"width": 4, "num_res_blocks": 1},
                                        "style": "old"}))
    net, meta = load_transformer(tmp_path / "old.safetensors")
    torch.testing.assert_close(net(x), old(x))


def test_every_sample_is_scored_against_its_own_style():
    from stylenet.image import load_image
    a, b = (load_image(STYLES / f"{n}.jpg", 64)[None] for n in ("starry_night", "wave"))
    layers = dict(content_layers={"relu2_2": 1.0}, style_layers={"relu1_2": 1.0, "relu2_2": 1.0})
    both, only_a, only_b = (PerceptualLoss(**layers) for _ in range(3))
    both.set_styles([a, b], weights=[1.0, 3.0])
    only_a.set_style(a)
    only_b.set_style(b)
    out, photo = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    _, per_sample = both.per_sample(out, photo, style_ids=torch.tensor([0, 1]))
    torch.testing.assert_close(per_sample[0], only_a(out[:1], photo[:1])["style"])
    torch.testing.assert_close(per_sample[1], 3.0 * only_b(out[1:], photo[1:])["style"])  # the style's weight
    assert both.num_styles == 2 and both.style_targets()["relu1_2"].shape == (2, 64, 64)


def test_style_mix_syntax_and_errors():
    assert parse_mix("wave") == {"wave": 1.0} and parse_mix("a=0.7, b=0.3") == {"a": 0.7, "b": 0.3}
    choice = choose("wave=3,udnie=1", NAMES)
    assert choice.weights.tolist() == [0.0, 0.75, 0.25] and "normalised" in choice.note
    assert choose({"wave": 0.5, "udnie": 0.5}, NAMES).note is None and choose("udnie", NAMES).label == "udnie"
    assert choose(None, ["only"]).weights is None
    assert choose(["wave", "udnie"], NAMES).weights.tolist() == [0.0, 0.5, 0.5]  # a list: an even mix, as AdaIN's
    for spec, message in (("scream", "no style 'scream'; its styles: starry_night, wave, udnie"),
                          ("wave=x", "not a number"), ("wave=-1", ">= 0"), ("=2", "without a style name"),
                          ("wave=0", "sum to 0"), (None, "holds 3 styles: choose one"), ("wave,wave", "twice"),
                          ("wave:0.5,udnie", r"no style 'wave:0.5' \(a mix is written with '=': wave=0.5,"),
                          ("Starry-Night", r"no style 'Starry-Night' \(did you mean 'starry_night'\?\); its styles"),
                          ([], r"style list \[\]: expected style names"), (["wave", 2], "expected style names"),
                          (["wave", "wave"], "twice")):
        with pytest.raises(StyleError, match=message):
            choose(spec, NAMES)


def _multi_model(tmp_path, num_styles: int = 3, **arch):
    net = TransformerNet(4, 1, num_styles=num_styles, **arch).eval()
    _random_norms(net)
    styles = [{"name": n, "image": f"{n}.jpg", "size": 64, "weight": 1.0} for n in NAMES[:num_styles]]
    return net, save_stylizer(net, tmp_path / "multi.safetensors", style="multi", styles=styles)


def test_metadata_round_trip_and_choosing_styles_at_load(tmp_path):
    net, path = _multi_model(tmp_path)
    meta = read_metadata(path)
    assert meta["model"] == {"width": 4, "num_res_blocks": 1, "num_styles": 3}
    assert [s["name"] for s in meta["styles"]] == NAMES
    x = torch.rand(3, 20, 28)
    stylizer = load_stylizer(path, style="wave")
    assert stylizer.style == "wave" and stylizer.style_names == NAMES
    torch.testing.assert_close(stylizer(x), net(x[None], one_hot(1, 3))[0])
    torch.testing.assert_close(stylizer(x, style="udnie"), net(x[None], one_hot(2, 3))[0])  # per call
    mixed = load_stylizer(path, style={"starry_night": 0.5, "udnie": 0.5})
    torch.testing.assert_close(mixed(x), net(x[None], torch.tensor([[0.5, 0.0, 0.5]]))[0])
    tiled = stylizer(torch.rand(3, 80, 96), tile=48, overlap=8)  # tiles share statistics of the same style
    assert tiled.shape == (3, 80, 96)


@pytest.mark.parametrize("arch", [{}, {"channels": [4, 6, 8], "block": "inverted", "outer_kernel": 3},
                                  {"channels": [4, 6], "outer_kernel": 3, "full_resolution": False}],
                         ids=["johnson", "light", "light_fast"])
def test_onnx_and_torchscript_take_style_weights_and_match(arch, tmp_path):
    from stylenet.convert import export_model
    from stylenet.onnx_export import onnx_session
    net, path = _multi_model(tmp_path, **arch)
    results = export_model(path, tmp_path / "out", ["safetensors", "torchscript", "onnx"])
    assert all(r.max_abs_diff < 1e-4 for r in results)
    session = onnx_session(tmp_path / "out" / "multi.onnx")
    scripted = torch.jit.load(str(tmp_path / "out" / "multi.torchscript.pt"))
    x = torch.rand(2, 3, 36, 52)
    weights = torch.tensor([[0.2, 0.3, 0.5], [0.0, 1.0, 0.0]])
    expected = net(x, weights)
    onnx_out = session.run(None, {"image": x.numpy(), "style_weights": weights.numpy()})[0]
    torch.testing.assert_close(torch.from_numpy(onnx_out), expected, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(scripted(x, weights), expected, rtol=1e-5, atol=1e-5)
    assert [i.name for i in session.get_inputs()] == ["image", "style_weights"]
    onnx_stylizer = load_stylizer(tmp_path / "out" / "multi.onnx", style="wave=1,udnie=1")
    torch.testing.assert_close(onnx_stylizer(x[0]), net(x[:1], torch.tensor([[0.0, 0.5, 0.5]]))[0], rtol=1e-4, atol=1e-4)
    # Tiles of the file share the whole image's statistics, under the mix, as the PyTorch model's do.
    big = torch.rand(3, 90, 120)
    tiled = load_stylizer(path, style="wave=1,udnie=1")(big, tile=48, overlap=16, stats_size=64)
    torch.testing.assert_close(onnx_stylizer(big, tile=48, overlap=16, stats_size=64), tiled, rtol=0, atol=1e-4)


@pytest.mark.parametrize("arch", [{}, {"channels": [4, 6, 8], "block": "inverted", "outer_kernel": 3},
                                  {"channels": [4, 6], "outer_kernel": 3, "full_resolution": False}],
                         ids=["johnson", "light", "light_fast"])
def test_a_style_or_a_mix_exports_as_a_one_style_model(arch, tmp_path):
    from stylenet.convert import export_model
    from stylenet.onnx_export import onnx_session
    net, path = _multi_model(tmp_path, **arch)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.rand(2, 3, 36, 52)
    for spec, weights, stem in [("wave", [0.0, 1.0, 0.0], "wave"),
                                ("starry_night=0.6,udnie=0.2", [0.75, 0.0, 0.25], "starry_night_75+udnie_25")]:
        results = export_model(path, tmp_path / "out", ["safetensors", "onnx"], style=spec, max_size=64)
        assert [r.path.name for r in results] == [f"{stem}.safetensors", f"{stem}.onnx"]
        one, meta = load_transformer(tmp_path / "out" / f"{stem}.safetensors")
        assert one.num_styles == 1 and "styles" not in meta and meta["style"] == stem
        assert meta["cut_from"] == {"model": path.name, "styles": {n: w for n, w in zip(NAMES, weights) if w}}
        expected = net(x, torch.tensor([weights]))
        torch.testing.assert_close(one(x), expected, rtol=1e-5, atol=1e-5)
        session = onnx_session(tmp_path / "out" / f"{stem}.onnx")
        assert [i.name for i in session.get_inputs()] == ["image"]  # the photo only
        torch.testing.assert_close(torch.from_numpy(session.run(None, {"image": x.numpy()})[0]), expected,
                                   rtol=1e-4, atol=1e-4)
    assert meta.get("style_image") is None and read_metadata(tmp_path / "out" / "wave.safetensors")["style_image"] == "wave.jpg"
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())  # the multi-style net is untouched
    from stylenet.export import one_style  # a style's own weight (evaluate.py's yardstick) goes with it
    styles = [{"name": n, "image": f"{n}.jpg", "size": 64, "weight": 2.0 if n == "wave" else 1.0} for n in NAMES]
    assert one_style(net, {"styles": styles, "style_weight": 3.0}, "wave", "m")[1]["style_weight"] == 6.0
    with pytest.raises(StyleError, match="no style 'nope'"):
        export_model(path, tmp_path / "bad", style="nope")
    with pytest.raises(StyleError, match="no style 'udnie'; its styles: wave"):  # a one-style model: its own only
        export_model(tmp_path / "out" / "wave.safetensors", tmp_path / "bad", style="udnie")
    assert not (tmp_path / "bad").exists()


def test_a_bundled_style_name_exports_that_style_and_load_transformer_says_where_it_is(tmp_path):
    from stylenet.convert import export_model
    from stylenet.export import ModelFileError
    (result,) = export_model("wave", tmp_path, max_size=64)
    assert result.path.name == "wave.safetensors" and read_metadata(result.path)["cut_from"]["model"] == "zoo.safetensors"
    x = torch.rand(3, 40, 48)
    torch.testing.assert_close(load_stylizer(result.path)(x), load_stylizer("zoo", style="wave")(x), rtol=1e-5, atol=1e-5)
    with pytest.raises(ModelFileError, match="wave is a style of the bundled zoo model"):
        load_transformer("wave")
    proc = run_here(ROOT / "scripts" / "export.py", ["--model", "zoo", "--style", "nope", "--out", tmp_path / "x"])
    assert proc.returncode == 2 and "no style 'nope'" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_stylize_cli_style_option_and_errors(tmp_path):
    _, path = _multi_model(tmp_path)
    photo = sorted((ROOT / "data" / "sample").glob("*.jpg"))[0]

    def stylize(*args):
        return run_here(ROOT / "scripts" / "stylize.py", ["--model", path, "--input", photo, "--output", tmp_path / "out",
                                                          "--quiet", *args])
    ok = stylize("--style", "wave=2,udnie=2")
    assert ok.returncode == 0 and "normalised" in ok.stdout and "done 1" in ok.stdout
    for args, message in ((["--style", "scream"], "its styles: starry_night, wave, udnie"), ([], "holds 3 styles")):
        bad = stylize(*args, "--overwrite")
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.slow
def test_tiny_multistyle_run_through_hydra(photos_dir, tmp_path):
    run = tmp_path / "run"
    overrides = [o for o in tiny_overrides(photos_dir, run)
                 if o != "logger=none" and not o.startswith(("data.batch_size", "data.val_size"))]
    proc = run_train([*overrides, "styles=[starry_night,wave,udnie]", "styles_size=64", "data.batch_size=3", "data.val_size=3",
                      "preview.every_n_steps=3", "preview.count=2", "preview.size=32"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    meta = read_metadata(run / "starry_night+wave+udnie.safetensors")
    assert [s["name"] for s in meta["styles"]] == NAMES and meta["model"]["num_styles"] == 3
    assert all(s["size"] == 64 for s in meta["styles"]) and meta["style"] == "starry_night+wave+udnie"
    from stylenet.export import load_transformer
    exported, _ = load_transformer(run / "starry_night+wave+udnie.safetensors")
    from_ckpt, ckpt_meta = load_transformer(run / "checkpoints" / "last.ckpt")  # the checkpoint exports alike
    assert from_ckpt.num_styles == 3 and [s["name"] for s in ckpt_meta["styles"]] == NAMES
    assert all(torch.equal(a, b) for a, b in zip(exported.state_dict().values(), from_ckpt.state_dict().values()))
    header = (run / "logs" / "metrics.csv").read_text().splitlines()[0]
    assert all(f"train/style/{n}" in header and f"val/style/{n}" in header for n in NAMES)
    from PIL import Image
    grid = Image.open(sorted((run / "previews").glob("*.png"))[-1])
    assert grid.height > 3.5 * (32 + 4)  # photos, then one row per style
    bad = train_in_process([*overrides, "style=[wave,udnie]"])
    assert bad.returncode == 2 and "styles=[wave,udnie]" in bad.stderr


def test_styles_are_spread_over_every_batch_and_rank():
    from types import SimpleNamespace
    from test_module import small_module

    module = small_module(styles=[{"name": n, "image": str(STYLES / f"{n}.jpg"), "size": 32, "weight": 1.0}
                                  for n in NAMES])
    seen = []
    for rank in range(2):
        module._trainer = SimpleNamespace(world_size=2, global_rank=rank)
        for position in range(3):
            ids, present = module._style_ids(2, position)
            seen += ids.tolist()
            assert present == sorted(set(ids.tolist()))
    module._trainer = None
    assert sorted(seen) == [0] * 4 + [1] * 4 + [2] * 4  # 12 samples: every style equally often
    assert json.dumps(module.styles)  # plain values (hyper-parameters)


@pytest.mark.slow
def test_add_style_trains_only_the_new_style_s_norms(photos_dir, tmp_path):
    net, base = _multi_model(tmp_path, num_styles=2)  # starry_night, wave
    run = tmp_path / "run"
    overrides = [o for o in tiny_overrides(photos_dir, run) if not o.startswith(("model.", "data=folder"))]
    proc = run_train(["experiment=add_style", f"init_from={base}", "style=udnie", *overrides, "trainer.max_steps=3"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    grown, meta = load_transformer(run / "added_udnie.safetensors")
    assert [s["name"] for s in meta["styles"]] == NAMES and grown.num_styles == 3
    old, new = net.state_dict(), grown.state_dict()
    norms = {k for k, v in new.items() if v.dim() == 2 and v.shape[0] == 3}
    assert norms and all(torch.equal(new[k], old[k]) for k in new if k not in norms)  # shared weights: frozen
    assert all(torch.equal(new[k][:2], old[k]) for k in norms)  # the old styles: untouched
    assert any(not torch.allclose(new[k][2], old[k].mean(0)) for k in norms)  # the new one trained
    x = torch.rand(1, 3, 24, 24)
    torch.testing.assert_close(grown(x, one_hot(1, 3)), net(x, one_hot(1, 2)))  # wave stylises exactly as before
    for args, message in ((["init_from=nowhere.safetensors"], "init_from: "), (["init_from=starry_night",
                          "style=starry_night"], "'starry_night' is starry_night.safetensors's only style")):
        bad = train_in_process(["experiment=add_style", *overrides, "style=udnie", *args,
                                f"hydra.run.dir={tmp_path / 'bad'}"])  # (run/ holds the run above: refused first)
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr, bad.stderr[-2000:]


@pytest.mark.slow
def test_add_style_with_a_style_the_model_holds_retunes_only_that_style(photos_dir, tmp_path):
    """A faint style of a trained zoo, pulled harder: its entry takes the run's style.weight and only its norm
    rows train, from where they were; the other styles and the shared weights stay bit-identical."""
    net, base = _multi_model(tmp_path, num_styles=2)  # starry_night, wave
    run = tmp_path / "run"
    overrides = [o for o in tiny_overrides(photos_dir, run) if not o.startswith(("model.", "data=folder"))]
    proc = run_train(["experiment=add_style", f"init_from={base}", "style=wave", "style.weight=3", *overrides, "style.size=48",
                      "trainer.max_steps=3", "name=retuned"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "retuning it (style.weight 3; style.size 64, the model's)" in proc.stderr + proc.stdout
    tuned, meta = load_transformer(run / "retuned.safetensors")
    assert [s["name"] for s in meta["styles"]] == NAMES[:2] and tuned.num_styles == 2
    assert [(s["weight"], s["size"]) for s in meta["styles"]] == [(1.0, 64), (3.0, 64)]  # (the model's size kept)
    assert meta["style_weight"] == 1.0  # loss.style_weight: style.weight is the entry's alone (it was applied twice)
    old, new = net.state_dict(), tuned.state_dict()
    norms = {k for k, v in new.items() if v.dim() == 2 and v.shape[0] == 2}
    assert norms and all(torch.equal(new[k], old[k]) for k in new if k not in norms)  # shared weights: frozen
    assert all(torch.equal(new[k][0], old[k][0]) for k in norms)  # starry_night: untouched
    assert any(not torch.equal(new[k][1], old[k][1]) for k in norms)  # wave: trained on
    x = torch.rand(1, 3, 24, 24)
    torch.testing.assert_close(tuned(x, one_hot(0, 2)), net(x, one_hot(0, 2)))


def test_style_weights_set_chosen_styles_weights_also_when_fine_tuning(tmp_path, caplog):
    """style_weights={wave:2}: wave's weight in this run instead of its own, for styles=[...] runs and for a
    fine-tune of a multi-style model (whose styles, and weights, come from its metadata: conf/style's
    weight cannot reach them)."""
    from stylenet.config import ConfigError
    from stylenet.training.config import module_kwargs
    from conftest import compose_config

    _, path = _multi_model(tmp_path)  # starry_night, wave, udnie: all weight 1
    weights = lambda kwargs: {s["name"]: s["weight"] for s in kwargs["styles"]}  # noqa: E731
    kwargs = module_kwargs(compose_config(["styles=[starry_night,wave]", "style_weights={wave:2}"]))
    assert weights(kwargs) == {"starry_night": 1.0, "wave": 2.0} and kwargs["style_weight"] == 1.0
    kwargs = module_kwargs(compose_config([f"init_from={path}", "name=tuned", "style_weights={udnie:3,wave:0.5}"]))
    assert weights(kwargs) == {"starry_night": 1.0, "wave": 0.5, "udnie": 3.0}
    for overrides, message in (([f"init_from={path}", "name=tuned", "style_weights={wav:2}"],
                                r"style_weights.wav: not a style of this run \(did you mean wave\?\)"),
                               (["styles=[starry_night,wave]", "style_weights={wave:0}"], "style_weights.wave: must be > 0"),
                               (["style_weights={wave:2}"], "this run has one: use style.weight")):
        with pytest.raises(ConfigError, match=message):
            module_kwargs(compose_config(overrides))
    # a model trained with style_weights passes them on to its fine-tunes, and the run says so
    styles = [{"name": n, "image": f"{n}.jpg", "size": 64, "weight": w} for n, w in zip(NAMES, (1.0, 3.0, 2.0))]
    weighted = save_stylizer(TransformerNet(4, 1, num_styles=3), tmp_path / "weighted.safetensors", style="multi", styles=styles)
    with caplog.at_level(logging.INFO):
        kwargs = module_kwargs(compose_config([f"init_from={weighted}", "name=tuned"]))
    assert weights(kwargs) == {"starry_night": 1.0, "wave": 3.0, "udnie": 2.0}
    assert "init_from: weighted.safetensors's styles train at the weights it trained at: wave 3, udnie 2 (the others 1)" in caplog.text
    caplog.clear()  # a weight style_weights sets is the run's own, not inherited: not named
    with caplog.at_level(logging.INFO):
        module_kwargs(compose_config([f"init_from={weighted}", "name=tuned", "style_weights={wave:1}"]))
    assert "init_from: weighted.safetensors's styles train at the weights it trained at: udnie 2 (the others 1)" in caplog.text


def test_evaluate_style_weight_scores_models_of_different_weights_alike(tmp_path, caplog):
    """A style trained at weight 2 is scored at 2 by default (its training loss) and at the given weight with
    style_weight=1 (evaluate.py --style-weight 1): the yardstick for comparing it with its weight-1 parent."""
    from stylenet.quality.evaluate import evaluate
    from stylenet.quality.scoring import load_photos

    net = TransformerNet(4, 1, num_styles=2).eval()
    _random_norms(net)
    styles = [{"name": n, "image": f"{n}.jpg", "size": 64, "weight": w} for n, w in zip(NAMES[:2], (1.0, 2.0))]
    path = save_stylizer(net, tmp_path / "weighted.safetensors", style="multi", styles=styles)
    photos = load_photos([str(ROOT / "data" / "sample")], 1, 48)
    with caplog.at_level(logging.INFO, logger="stylenet.quality.evaluate"):
        own = {m.style: m.mean() for m in evaluate([path], photos, "cpu", progress=False)[0]}
    said = [r.getMessage() for r in caplog.records if "scored at style weight" in r.getMessage()]
    assert said == ["weighted.safetensors [wave]: scored at style weight 2, the weight it trained at "
                    "(--style-weight 1 scores every model at one weight)"]  # said for the weighted style only
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="stylenet.quality.evaluate"):
        unit = {m.style: m.mean() for m in evaluate([path], photos, "cpu", progress=False, style_weight=1.0)[0]}
    assert not [r for r in caplog.records if "scored at style weight" in r.getMessage()]
    assert own["wave"]["style"] == pytest.approx(2 * unit["wave"]["style"], rel=1e-4)
    assert own["wave"]["content"] == pytest.approx(unit["wave"]["content"], rel=1e-5)
    assert own["starry_night"]["style"] == pytest.approx(unit["starry_night"]["style"], rel=1e-5)
    proc = run_here(ROOT / "scripts" / "evaluate.py", ["--model", str(path), "--style-weight", "0", "--out", str(tmp_path / "e")])
    assert proc.returncode == 2 and "--style-weight: must be a number > 0" in proc.stderr
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "evaluate.py"), "--model", str(path), "--model-styles", "wave",
                           "--count", "1", "--size", "32", "--out", str(tmp_path / "e")], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0 and "INFO: weighted.safetensors [wave]: scored at style weight 2" in proc.stderr, proc.stderr


def test_evaluate_scores_each_style_of_a_multistyle_model_against_its_painting(tmp_path):
    from stylenet.quality.evaluate import evaluate
    from stylenet.quality.scoring import EvaluationError, load_photos

    _, path = _multi_model(tmp_path)
    photos = load_photos([str(ROOT / "data" / "sample")], 2, 48)
    methods, rows = evaluate([path], photos, "cpu", progress=False)
    assert [m.style for m in methods] == NAMES and [m.name for m in methods][1] == "multi.safetensors [wave]"
    assert {Path(m.style_image).name for m in methods} == {f"{n}.jpg" for n in NAMES}
    assert len(rows[0]) == 1 + 3 and len({round(m.mean()["style"], 3) for m in methods}) == 3
    only, _ = evaluate([path], photos, "cpu", model_styles=["udnie"], progress=False)
    assert [m.style for m in only] == ["udnie"]
    with pytest.raises(EvaluationError, match="no style 'scream'; its styles: starry_night, wave, udnie"):
        evaluate([path], photos, "cpu", model_styles=["scream"], progress=False)
    style = str(ROOT / "data" / "styles" / "wave.jpg")  # one painting for three styles: refused, not mis-scored
    with pytest.raises(EvaluationError, match="has 3 styles and --style names one painting"):
        evaluate([path], photos, "cpu", style, progress=False)
    assert [m.style_image for m in evaluate([path], photos, "cpu", style, model_styles=["wave"], progress=False)[0]] == [style]
    bundled, _ = evaluate(["wave"], photos[:1], "cpu", progress=False)  # a bundled style's name: that style only
    assert [(m.name, m.style) for m in bundled] == [("wave [wave]", "wave")]


def test_a_multistyle_stylizer_without_a_choice_needs_a_style_per_call_and_the_styles_sheet(tmp_path):
    from stylenet.quality.pictures import styles_sheet
    net, path = _multi_model(tmp_path)
    stylizer = load_stylizer(path)
    x = torch.rand(3, 16, 16)
    with pytest.raises(StyleError, match="holds 3 styles"):
        stylizer(x)
    torch.testing.assert_close(stylizer(x, style="wave"), net(x[None], one_hot(1, 3))[0])
    photos = sorted((ROOT / "data" / "sample").glob("*.jpg"))[:2]
    sheet = styles_sheet(stylizer, photos, mixes=[("starry_night", "wave")], height=40, size=48)
    assert sheet.height > 3 * 40 and sheet.width > 3 * 40  # 2 photo rows + a mix row, 3 style columns
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "styles_sheet.py"), "--model", str(path), "--mixes",
                           "wave+scream", "--out", str(tmp_path / "s.png")], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and "no style 'scream'" in proc.stderr


def test_the_bundled_zoo_loads_by_name_by_style_and_through_torch_hub():
    from stylenet.export import bundled_styles, pretrained_names
    if "zoo" not in pretrained_names():
        pytest.skip("no zoo bundled")
    zoo = load_stylizer("zoo")
    assert len(zoo.style_names) == 10 and set(zoo.style_names) <= set(bundled_styles())
    wave = load_stylizer("wave")  # a style of the bundled zoo, by its name
    assert wave.style == "wave" and wave.metadata["style"] == "zoo"
    x = torch.rand(3, 40, 48)
    torch.testing.assert_close(wave(x), zoo(x, style="wave"))
    mix = load_stylizer("zoo", style={"wave": 0.5, "udnie": 0.5})
    assert mix.style == "wave 0.50 + udnie 0.50" and (mix(x) - wave(x)).abs().mean() > 1e-3
    hub = torch.hub.load(str(ROOT), "the_scream", source="local", trust_repo=True)
    sys.modules.pop("hubconf", None)
    torch.testing.assert_close(hub(x), zoo(x, style="the_scream"))


@pytest.mark.parametrize("name, full_resolution", [("zoo_light", True), ("zoo_fast", False)])
def test_the_bundled_light_zoos_hold_the_same_styles_in_under_a_megabyte(name, full_resolution):
    from stylenet.export import PRETRAINED, pretrained_names
    if name not in pretrained_names():
        pytest.skip(f"no {name} bundled")
    light, zoo = load_stylizer(name), load_stylizer("zoo")
    assert light.style_names == zoo.style_names and (PRETRAINED / f"{name}.safetensors").stat().st_size <= 2**20
    assert light.metadata["model"]["width"] == 8 and light.metadata["style"] == name
    assert light.metadata["model"].get("full_resolution", True) is full_resolution  # model=light_fast: no such layer
    assert load_stylizer("wave").metadata["style"] == "zoo"  # a style's name still means the full zoo
    x = torch.rand(3, 40, 48)
    assert (light(x, style="wave") - light(x, style="udnie")).abs().mean() > 1e-3


def test_scripting_survives_a_stale_builtin_id():
    """What failed once in CI (test_a_style_map_places_styles_per_pixel[light]: "builtin cannot be used as a
    value" at a conv's padding list): torch.jit._builtins still held the id of a freed op object, and the list
    had been allocated at its address. Made to happen here by registering the list's id by hand."""
    from torch.jit._builtins import _get_builtin_table

    class Conv(torch.nn.Conv2d):  # a class of its own: TorchScript's type cache for Conv2d stays clean
        pass

    net = torch.nn.Sequential(Conv(3, 3, 3))
    table, key = _get_builtin_table(), id(net[0]._reversed_padding_repeated_twice)
    table[key] = "aten::relu"
    try:
        with pytest.raises(RuntimeError, match="builtin cannot be used as a value"):
            torch.jit.script(net)
        scripted = script(net)
    finally:
        del table[key]
    x = torch.rand(1, 3, 9, 10)
    torch.testing.assert_close(scripted(x), net(x))


@pytest.mark.parametrize("arch", [{}, {"channels": [4, 6, 8], "block": "inverted", "outer_kernel": 3},
                                  {"channels": [4, 6], "outer_kernel": 3, "full_resolution": False}],
                         ids=["johnson", "light", "light_fast"])
def test_a_style_map_places_styles_per_pixel(arch, tmp_path):
    net, _ = _multi_model(tmp_path, **arch)
    x = torch.rand(2, 3, 37, 50)  # odd sizes: the map is padded as the image is
    weights = torch.tensor([0.2, 0.3, 0.5])
    constant = weights[None, :, None, None].expand(1, 3, 37, 50)
    with torch.no_grad():
        torch.testing.assert_close(net(x, constant), net(x, weights), atol=1e-5, rtol=0)  # a uniform map is a mix
        scripted = script(net)  # the exported TorchScript takes a map too
        torch.testing.assert_close(scripted(x, constant.contiguous()), net(x, weights), atol=1e-5, rtol=0)
        halves = torch.zeros(1, 3, 37, 50)
        halves[:, 0, :, :25], halves[:, 2, :, 25:] = 1, 1
        y, a, b = net(x, halves), net(x, one_hot(0, 3)), net(x, one_hot(2, 3))
    left, right = (slice(None), slice(None), slice(None), slice(0, 10)), (slice(None),) * 3 + (slice(-10, None),)
    assert (y - a)[left].abs().mean() < (y - b)[left].abs().mean()  # the first style on the left,
    assert (y - b)[right].abs().mean() < (y - a)[right].abs().mean()  # the second on the right
    with pytest.raises(ValueError, match="a style map must be"):
        net(x, constant[..., :20])


def test_a_mask_gives_each_of_k_styles_its_grey_level_and_blends_neighbours():
    from stylenet.inference.styles import choose, masked

    choice = choose("udnie,wave,starry_night", NAMES)
    ramp = torch.tensor([[0.0, 0.25, 0.5, 0.75, 1.0]])
    regions = masked(choice, ramp, (1, 5), "usage").regions
    expected = torch.tensor([[1, 0.5, 0, 0, 0], [0, 0.5, 1, 0.5, 0], [0, 0, 0, 0.5, 1]])  # udnie, wave, starry_night
    torch.testing.assert_close(regions[:, 0], expected)
    two = masked(choose("wave,udnie", NAMES), ramp, (1, 5), "usage").regions
    torch.testing.assert_close(two[:, 0], torch.stack([1 - ramp[0], ramp[0]]))  # two styles: the mask and 1 - mask
    with pytest.raises(StyleError, match="usage"):
        masked(choose("wave", NAMES), ramp, (1, 5), "usage")


def test_a_style_mask_through_the_stylizer_and_the_script(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    from stylenet.convert import export_model
    from stylenet.stylize import main

    net, path = _multi_model(tmp_path)
    stylizer = load_stylizer(path)
    photo = torch.rand(3, 60, 90)
    black, white = torch.zeros(60, 90), torch.ones(30, 45)  # a mask of another size is resized to the photo's
    with torch.no_grad():
        first, second = net(photo[None], one_hot(2, 3))[0], net(photo[None], one_hot(0, 3))[0]
    torch.testing.assert_close(stylizer(photo, style="udnie,starry_night", mask=black), first, atol=1e-5, rtol=0)
    torch.testing.assert_close(stylizer(photo, style="udnie,starry_night", mask=white), second, atol=1e-5, rtol=0)
    with torch.no_grad():  # three styles: the middle one at mid-grey (levels 0, 1/2, 1)
        middle = net(photo[None], one_hot(1, 3))[0]
    grey = torch.full((60, 90), 0.5)
    torch.testing.assert_close(stylizer(photo, style="udnie,wave,starry_night", mask=grey), middle, atol=1e-5, rtol=0)
    ramp = torch.linspace(0, 1, 90).expand(60, 90)
    whole = stylizer(photo, style="udnie,starry_night", mask=ramp)
    tiled = stylizer(photo, style="udnie,starry_night", mask=ramp, tile=40, overlap=8, stats_size=10_000)
    assert (tiled - whole).abs().mean() < 0.01  # each tile gets its part of the map
    with pytest.raises(StyleError, match="two or more"):
        stylizer(photo, style="udnie", mask=black)
    export_model(path, tmp_path / "out", ["onnx"], max_size=64)
    with pytest.raises(StyleError, match="needs the PyTorch model"):
        load_stylizer(tmp_path / "out" / "multi.onnx", style="wave,udnie")(photo, mask=black)
    # The script: --style-mask with --style first,second; a bad mask or model is one line before any work.
    Image.fromarray((ramp.numpy() * 255).astype("uint8")).save(tmp_path / "mask.png")
    Image.fromarray((photo.permute(1, 2, 0).numpy() * 255).round().astype("uint8")).save(tmp_path / "photo.png")
    assert main(["--model", str(path), "--style", "udnie,starry_night", "--style-mask", str(tmp_path / "mask.png"),
                 "--input", str(tmp_path / "photo.png"), "--output", str(tmp_path / "styled"), "--quiet",
                 "--precision", "fp32"]) == 0  # as the API (auto may take bf16 on this CPU)
    assert "normalised" not in capsys.readouterr().out  # a mask's two styles are not a mix
    got = np.asarray(Image.open(tmp_path / "styled" / "photo.png"), float)
    expected = stylizer(Image.open(tmp_path / "photo.png"), style="udnie,starry_night", mask=Image.open(tmp_path / "mask.png"))
    assert np.abs(got - np.asarray(expected, float)).max() <= 1  # the same picture, up to 8-bit rounding
    # A folder of masks: one per photo, found by its path relative to the input (any image suffix).
    photos, masks = tmp_path / "photos", tmp_path / "masks"
    (photos / "sub").mkdir(parents=True)
    (masks / "sub").mkdir(parents=True)
    for name in ("a", "sub/b", "c"):
        Image.open(tmp_path / "photo.png").save(photos / f"{name}.png")
    Image.new("L", (9, 6), 0).save(masks / "a.jpg")  # black: udnie (the first)
    Image.new("L", (90, 60), 255).save(masks / "sub" / "b.png")  # white: starry_night; c.png has no mask
    code = main(["--model", str(path), "--style", "udnie,starry_night", "--style-mask", str(masks), "--input",
                 str(photos), "--output", str(tmp_path / "each"), "--batch-size", "2", "--quiet", "--precision", "fp32"])
    out = capsys.readouterr().out
    assert code == 1 and "failed 1" in out and "c.png: no mask for it" in out  # the others are done
    alone = {s: np.asarray(stylizer(Image.open(tmp_path / "photo.png"), style=s), float) for s in ("udnie", "starry_night")}
    for name, style in (("a", "udnie"), ("sub/b", "starry_night")):
        assert np.abs(np.asarray(Image.open(tmp_path / "each" / f"{name}.png"), float) - alone[style]).max() <= 1
    for extra, message in ((["--style", "udnie"], "two or more"),
                           (["--style", "udnie,wave", "--backend", "onnxruntime"], "cannot take one")):
        code = main(["--model", str(path), *extra, "--style-mask", str(tmp_path / "mask.png"), "--input",
                     str(tmp_path / "photo.png"), "--output", str(tmp_path / "bad"), "--quiet"])
        assert code == 2 and message in capsys.readouterr().err and not (tmp_path / "bad").exists()
