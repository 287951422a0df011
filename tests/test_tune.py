"""brainoptim.tune (tuning.py): search spaces, a short search, the CLI hook."""

import argparse
import json
import math

import pytest

from brainoptim import registry
from brainoptim.compare import RunSpec, load_data, train_run
from brainoptim.tuning import (
    Dimension,
    _hparams,
    add_tune_subparser,
    default_space,
    parse_space,
    run_tune,
    tune,
)


def test_default_space_follows_the_registry():
    # Adam's registry lr is 1e-3: the range is [1e-3 / 30, 1e-3 * 30] in log10.
    lr, wd = default_space("Adam")
    assert lr == Dimension("lr", 1e-3 / 30, 1e-3 * 30, log=True)
    assert wd == Dimension("weight_decay", 1e-6, 0.1, log=True)
    assert lr.bounds == pytest.approx((math.log10(1e-3 / 30), math.log10(0.03)))
    # SGD (registry lr 0.1, momentum 0.9) adds momentum; Rprop has no decay.
    assert [d.name for d in default_space("SGD")] == ["lr", "weight_decay", "momentum"]
    assert [d.name for d in default_space("Rprop")] == ["lr"]


def test_tuple_entries_are_searched_inside_their_default():
    dims = parse_space("Adam", {"betas[1]": (0.99, 0.9999), "lr": (1e-4, 1e-1, "log")})
    # Coordinates: betas[1] linear, lr as log10; betas[0] keeps Adam's 0.9.
    hparams = _hparams(dims, {"betas[1]": 0.995, "lr": -2.0}, {"betas": (0.9, 0.999)})
    assert hparams == {"betas": (0.9, 0.995), "lr": pytest.approx(1e-2)}


@pytest.mark.parametrize(
    ("space", "match"),
    [
        ({"foo": (0.0, 1.0)}, r"space\['foo'\]: Adam has no argument 'foo'"),
        ({"betas[2]": (0.0, 1.0)}, r"betas default is \(0.9, 0.999\).* no entry 2"),
        ({"lr": (1.0, 0.5)}, r"space\['lr'\]: low must be < high, got low=1.0"),
        ({"lr": (0.0, 1.0, "log")}, r"a log scale needs low > 0, got low=0.0"),
        ({"lr": (0.1, 1.0, "exp")}, r"scale must be 'log' or 'linear', got 'exp'"),
        ({"lr": 0.1}, r"must be \(low, high\) or \(low, high, 'log'\)"),
    ],
)
def test_bad_spaces(space, match):
    with pytest.raises(ValueError, match=match):
        parse_space("Adam", space)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown optimizer 'Adamm'"):
        tune("Adamm")
    with pytest.raises(ValueError, match=r"budget must be an integer >= 1, got 0"):
        tune("Adam", budget=0)
    with pytest.raises(ValueError, match=r"model must be one of"):
        tune("Adam", model="resnet")


@pytest.mark.slow
def test_tune_end_to_end(tmp_path):
    data = load_data("synthetic", "mlp", seed=0, limit=60)
    res = tune(
        "Adam",
        "mlp",
        data,
        space={"lr": (1e-4, 1e-1, "log")},
        budget=3,
        epochs=1,
        seed=0,
        out=tmp_path,
        verbose=False,
    )
    assert len(res.trials) == 3 and res.success
    losses = [t["val_loss"] for t in res.trials]
    assert res.best_val_loss == min(losses)
    assert res.best == res.trials[losses.index(min(losses))]["hparams"]
    assert 1e-4 <= res.best["lr"] <= 1e-1

    # The score is what an independent training run with the best lr gives.
    again = train_run(
        RunSpec("mlp", "Adam", "check", epochs=1, batch_size=64, overrides=res.best),
        data,
    )
    assert again["final_val_loss"] == pytest.approx(res.best_val_loss, rel=1e-5)

    record = json.loads((tmp_path / "best_hparams.json").read_text())
    assert record["best"]["lr"] == res.best["lr"]
    assert record["space"] == {"lr": [1e-4, 1e-1, "log"]}
    assert len(record["trials"]) == 3
    assert (tmp_path / "search.png").read_bytes()[:4] == b"\x89PNG"
    registry.create("Adam", **res.best)  # the best is a valid constructor call


@pytest.mark.slow
def test_cli_subparser(tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="brainoptim")
    add_tune_subparser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        [
            "tune",
            "Lion",
            "--data",
            "synthetic",
            "--limit",
            "60",
            "--space",
            "lr=1e-4:1e-2:log",
            "--space",
            "betas[1]=0.9:0.999",
            "--budget",
            "2",
            "--epochs",
            "1",
            "--out",
            str(tmp_path),
            "--quiet",
        ]
    )
    assert args.run is run_tune
    assert args.space == [
        ("lr", (1e-4, 1e-2, "log")),
        ("betas[1]", (0.9, 0.999, "linear")),
    ]
    assert run_tune(args) == 0
    record = json.loads((tmp_path / "best_hparams.json").read_text())
    assert record["optimizer"] == "Lion" and len(record["trials"]) == 2
    assert record["best"]["betas"][0] == 0.9  # Lion's default, not searched
    assert "best of 2 candidates" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        parser.parse_args(["tune", "Adam", "--space", "lr=1e-4"])
